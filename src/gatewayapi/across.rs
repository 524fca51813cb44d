//! The checks across the routes of one export: pairs that App Mesh and Gateway API order
//! differently (or that AWS left unordered), routes that take exactly the same requests, and
//! routes that share a Gateway's listeners with routes App Mesh served on another protocol's.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Code, Exported, Finding, Requests};
use crate::api::matching::{PATH_ANY, PATH_EXACT, PATH_PREFIX, PATH_REGEX};

/// Every ordered pair `(i, j)`, `i != j`, of routes that may take a request both take, as far as
/// their paths tell: routes on one Gateway, of one kind, whose paths are not apart. Found by
/// path, not by comparing every pair, so that 10 000 routes cost their paths' lengths: a prefix
/// or exact path meets the routes whose path starts it (which also pairs `/x` with `/x/`, whose
/// Gateway API prefix takes `/x` bare), a gRPC service the same service, and a route on every
/// path or a regular expression meets every route. Sorted, as a loop over every pair visits
/// them; a superset of the pairs `Matcher::disjoint` does not set apart.
fn meeting(exported: &[(String, Exported)]) -> Vec<(usize, usize)> {
    let mut groups: BTreeMap<_, Vec<usize>> = BTreeMap::new();
    for (i, (_, e)) in exported.iter().enumerate() {
        if e.matcher.is_some() {
            groups.entry((&e.gateway, e.kind)).or_default().push(i);
        }
    }
    let key = |i: usize| {
        exported[i]
            .1
            .matcher
            .as_ref()
            .map_or((PATH_ANY, ""), |m| m.path_key())
    };
    let mut pairs = Vec::new();
    for members in groups.values() {
        let mut by_path: HashMap<&str, Vec<usize>> = HashMap::new();
        for &i in members {
            match key(i) {
                (PATH_ANY | PATH_REGEX, _) => pairs.extend(
                    members
                        .iter()
                        .filter(|&&j| j != i)
                        .flat_map(|&j| [(i, j), (j, i)]),
                ),
                (_, path) => by_path.entry(path).or_default().push(i),
            }
        }
        for &j in members {
            let (kind, path) = key(j);
            let met: Vec<usize> = match kind {
                PATH_PREFIX | PATH_EXACT => path
                    .char_indices()
                    .skip(1)
                    .map(|(k, _)| &path[..k])
                    .chain([path])
                    .filter_map(|p| by_path.get(p))
                    .flatten()
                    .copied()
                    .collect(),
                PATH_ANY | PATH_REGEX => Vec::new(),
                _ => by_path.get(path).cloned().unwrap_or_default(),
            };
            pairs.extend(
                met.into_iter()
                    .filter(|&i| i != j)
                    .flat_map(|i| [(i, j), (j, i)]),
            );
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// A finding for every pair of routes on one gateway that can take the same request and that
/// App Mesh orders one way and Gateway API's precedence the other (`priority-order`), or whose
/// order in App Mesh AWS did not document (`order-undocumented`, once per pair).
pub(super) fn order_findings(exported: &[(String, Exported)], found: &mut Vec<Finding>) {
    for (i, j) in meeting(exported) {
        let ((a_name, a), (b_name, b)) = (&exported[i], &exported[j]);
        let (Some(x), Some(y)) = (&a.matcher, &b.matcher) else {
            continue;
        };
        // Exactly the same requests: `same-requests` says it.
        let same = a.matches == b.matches && a.port == b.port;
        if same || x.disjoint(y) {
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

/// A finding for every route that takes exactly the requests an earlier route on the same
/// Gateway (and listener) takes: Gateway API sends them to one of the two only.
pub(super) fn overlap_findings(exported: &[(String, Exported)], found: &mut Vec<Finding>) {
    // The first route of each Gateway, kind, port and matches.
    let mut first = BTreeMap::new();
    for (j, (b_name, b)) in exported.iter().enumerate() {
        let matches = serde_json::to_string(&b.matches).unwrap_or_default();
        let i = *first
            .entry((&b.gateway, b.kind, b.port, matches))
            .or_insert(j);
        if i != j {
            let a_name = &exported[i].0;
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

/// A finding for every route attached to a whole Gateway that also carries routes App Mesh
/// served on listeners of another protocol. A virtual gateway's listener serves the routes of
/// its protocol's kind (`http` listeners the `httpRoute`s, `http2` the `http2Route`s, `grpc` the
/// `grpcRoute`s: the emulator's model of App Mesh's gateway, docs/testing.md, "The gateway data
/// plane"), while a parentRef without a `sectionName` or `port` attaches a route to every
/// listener of the Gateway (Gateway API's ParentReference).
pub(super) fn protocol_findings(exported: &[(String, Exported)], found: &mut Vec<Finding>) {
    let mut protocols: BTreeMap<_, BTreeSet<&str>> = BTreeMap::new();
    for (_, e) in exported {
        protocols.entry(&e.gateway).or_default().insert(e.protocol);
    }
    for (name, e) in exported.iter().filter(|(_, e)| e.whole_gateway) {
        let others: Vec<&str> = protocols[&e.gateway]
            .iter()
            .copied()
            .filter(|p| *p != e.protocol)
            .collect();
        if others.is_empty() {
            continue;
        }
        found.push(Finding::about(
            name.clone(),
            "spec",
            Code::ListenerProtocol,
            format!(
                "App Mesh applied this route on the virtual gateway's {} listeners only; attached \
                 to the whole Gateway {}, it also takes requests on the listeners for its {} \
                 routes, which App Mesh sent by those routes or answered 404",
                e.protocol,
                e.parent,
                others.join(" and ")
            ),
            "attach each route to a listener of its protocol: import the routes with \
             `meshroute import` (it records the virtual gateway's listeners) and export with \
             --gateway-class, or set each parentRef's sectionName",
            Requests::All,
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::{Findings, GatewayKey, Options, ParentRef, mapped};
    use super::*;
    use crate::api::GatewayRoute;

    fn exported(routes: &[(&str, Value)]) -> Vec<(String, Exported)> {
        let mut found = Vec::new();
        routes
            .iter()
            .enumerate()
            .filter_map(|(i, (gateway, spec))| {
                let mut spec = spec.clone();
                spec["meshName"] = json!("m");
                spec["virtualGatewayName"] = json!(gateway);
                let route: GatewayRoute = serde_json::from_value(json!({
                    "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
                    "metadata": { "name": format!("r{i}"), "namespace": "shop" }, "spec": spec,
                }))
                .unwrap();
                let mut f = Findings {
                    object: format!("shop/r{i}"),
                    found: &mut found,
                    dropped: false,
                    grants: Default::default(),
                };
                let parent = ParentRef {
                    name: GatewayKey::of(&route).gateway,
                    ..ParentRef::default()
                };
                let (_, e) = mapped(&route, parent, &Options::default(), &mut f)?;
                Some((format!("shop/r{i}"), e))
            })
            .collect()
    }

    /// The index finds every pair a comparison of every pair with `Matcher::disjoint` keeps,
    /// and fewer than all.
    #[test]
    fn meeting_keeps_every_pair_whose_paths_are_not_apart() {
        let target = json!({ "target": { "virtualService": { "virtualServiceName": "s" } } });
        let http = |kind: &str, m: Value| json!({ kind: { "match": m, "action": target } });
        let grpc = |m: Value| json!({ "grpcRoute": { "match": m, "action": target } });
        let mut routes = Vec::new();
        for gateway in ["g", "h"] {
            for kind in ["httpRoute", "http2Route"] {
                for prefix in ["/", "/a", "/a/", "/ab", "/a/b", "/b", "/é", "/éa"] {
                    routes.push((gateway, http(kind, json!({ "prefix": prefix }))));
                }
                for exact in ["/a", "/a/b", "/c", "/é"] {
                    routes.push((gateway, http(kind, json!({ "path": { "exact": exact } }))));
                }
                routes.push((gateway, http(kind, json!({ "path": { "regex": "/a.*" } }))));
                routes.push((
                    gateway,
                    http(
                        kind,
                        json!({ "prefix": "/a", "hostname": { "exact": "x.example" } }),
                    ),
                ));
            }
            for service in [None, Some("pkg.A"), Some("pkg.A"), Some("pkg.AB")] {
                let m = service.map_or(json!({}), |s| json!({ "serviceName": s }));
                routes.push((gateway, grpc(m)));
            }
        }
        let exported = exported(&routes);
        assert_eq!(exported.len(), routes.len(), "every route is exported");
        let met: std::collections::BTreeSet<(usize, usize)> =
            meeting(&exported).into_iter().collect();
        let mut overlapping = 0;
        for (i, (_, a)) in exported.iter().enumerate() {
            for (j, (_, b)) in exported.iter().enumerate() {
                let (x, y) = (a.matcher.as_ref().unwrap(), b.matcher.as_ref().unwrap());
                if i != j && a.gateway == b.gateway && a.kind == b.kind && !x.disjoint(y) {
                    overlapping += 1;
                    assert!(met.contains(&(i, j)), "{routes:?}: {i} and {j} not paired");
                }
            }
        }
        assert!(overlapping > 0);
        let n = exported.len();
        assert!(
            met.len() < n * (n - 1) / 4,
            "{} of {} pairs",
            met.len(),
            n * (n - 1)
        );
        assert!(met.iter().all(|(i, j)| i != j));
    }

    /// Routes of several protocols on one Gateway: each route attached to the whole Gateway
    /// is reported, a route attached to its protocol's listeners is not.
    #[test]
    fn routes_of_other_protocols_on_the_whole_gateway_are_reported() {
        let route = |name: &str, gateway: &str, kind: &str, listeners: Option<&str>| {
            let mut r: GatewayRoute = serde_json::from_value(json!({
                "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
                "metadata": { "name": name, "namespace": "shop" },
                "spec": { "meshName": "m", "virtualGatewayName": gateway, kind: {
                    "match": { "prefix": format!("/{name}") }, "action": { "target": {
                        "virtualService": { "virtualServiceName": "s" } } } } } }))
            .unwrap();
            if let Some(l) = listeners {
                r.metadata.annotations = Some(
                    [(
                        crate::api::recorded::LISTENERS_ANNOTATION.to_string(),
                        l.to_string(),
                    )]
                    .into(),
                );
            }
            r
        };
        let reported = |routes: &[GatewayRoute], class: Option<&str>| {
            let opts = Options {
                gateway_class: class.map(str::to_string),
                ..Options::default()
            };
            let mut objects: Vec<String> = super::super::export(routes, &opts)
                .findings
                .into_iter()
                .filter(|f| f.code == Code::ListenerProtocol)
                .map(|f| f.object)
                .collect();
            objects.sort();
            objects
        };
        let mixed = [
            route("a", "g", "httpRoute", None),
            route("b", "g", "http2Route", None),
            route("c", "h", "httpRoute", None),
        ];
        assert_eq!(reported(&mixed, None), ["shop/a", "shop/b"]);
        assert_eq!(reported(&mixed, Some("x")), ["shop/a", "shop/b"]);
        let both = Some("http:8080,http2:8081");
        let recorded = [
            route("a", "g", "httpRoute", both),
            route("b", "g", "http2Route", both),
        ];
        assert_eq!(reported(&recorded, Some("x")), Vec::<String>::new());
        assert_eq!(
            reported(&recorded, None),
            ["shop/a", "shop/b"],
            "no Gateway printed"
        );
        let http_only = Some("http:8080");
        let half = [
            route("a", "g", "httpRoute", http_only),
            route("b", "g", "http2Route", http_only),
        ];
        assert_eq!(reported(&half, Some("x")), ["shop/b"]);
    }
}
