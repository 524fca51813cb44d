//! The checks across the routes of one export: pairs that App Mesh and Gateway API order
//! differently (or that AWS left unordered), and routes that take exactly the same requests.

use super::{Code, Exported, Finding, Requests};

/// A finding for every pair of routes on one gateway that can take the same request and that
/// App Mesh orders one way and Gateway API's precedence the other (`priority-order`), or whose
/// order in App Mesh AWS did not document (`order-undocumented`, once per pair).
pub(super) fn order_findings(exported: &[(String, Exported)], found: &mut Vec<Finding>) {
    for (i, (a_name, a)) in exported.iter().enumerate() {
        for (j, (b_name, b)) in exported.iter().enumerate() {
            let (Some(x), Some(y)) = (&a.matcher, &b.matcher) else {
                continue;
            };
            // Exactly the same requests: `same-requests` says it.
            let same = a.matches == b.matches && a.port == b.port;
            if i == j || a.gateway != b.gateway || a.kind != b.kind || same || x.disjoint(y) {
                continue;
            }
            // Equal matches where one route listens on every port and the other on one: on
            // that port Gateway API orders the two by age and name, not by priority.
            let tie = b.precedence == a.precedence
                && a.matches == b.matches
                && (a.port.is_none() || b.port.is_none());
            let shown = |p: Option<i32>| p.map_or("none".to_string(), |p| p.to_string());
            let (pa, pb) = (shown(x.priority), shown(y.priority));
            let shared = || Requests::SharedWith(b_name.clone());
            match x.app_mesh_first(y) {
                Some(true) if b.precedence > a.precedence || tie => {
                    let why = if tie {
                        "Gateway API orders routes with the same match by age and name, not priority"
                    } else {
                        "its match is more specific"
                    };
                    found.push(Finding::about(
                        a_name.clone(),
                        "spec.priority",
                        Code::PriorityOrder,
                        format!(
                            "App Mesh tries this route before {b_name} (priority {pa}, then {pb}, \
                             the longer path first between routes without one); Gateway API may \
                             try {b_name} first where both match: {why}"
                        ),
                        "make the matches of the two routes disjoint, or merge them into one \
                         route whose rules Gateway API orders as intended",
                        shared(),
                    ));
                }
                None if i < j => {
                    let gateway_api = match a.precedence.cmp(&b.precedence) {
                        std::cmp::Ordering::Greater => "tries this route first".to_string(),
                        std::cmp::Ordering::Less => format!("tries {b_name} first"),
                        std::cmp::Ordering::Equal => "orders the two by age, then name".into(),
                    };
                    found.push(Finding::about(
                        a_name.clone(),
                        "spec.priority",
                        Code::OrderUndocumented,
                        format!(
                            "this route and {b_name} can take the same requests, and AWS did not \
                             document which of the two App Mesh tried first (priorities {pa} and \
                             {pb}; App Mesh is documented to order by priority, and routes \
                             without one by the length of their paths); Gateway API {gateway_api}"
                        ),
                        "give both routes a priority, in the order App Mesh served them",
                        shared(),
                    ));
                }
                _ => {}
            }
        }
    }
}

/// A finding for every route that takes exactly the requests an earlier route on the same
/// Gateway (and listener) takes: Gateway API sends them to one of the two only.
pub(super) fn overlap_findings(exported: &[(String, Exported)], found: &mut Vec<Finding>) {
    for (i, (b_name, b)) in exported.iter().enumerate() {
        let same = exported[..i].iter().find(|(_, a)| {
            a.gateway == b.gateway && a.kind == b.kind && a.port == b.port && a.matches == b.matches
        });
        if let Some((a_name, _)) = same {
            found.push(Finding::about(
                b_name.clone(),
                "spec",
                Code::SameRequests,
                format!(
                    "{a_name} takes exactly the same requests on the same Gateway {}; Gateway API \
                     sends them to only one of the two (the older route, then by name)",
                    b.parent
                ),
                "make the two routes' matches differ, or delete the one that should not serve",
                Requests::SharedWith(a_name.clone()),
            ));
        }
    }
}
