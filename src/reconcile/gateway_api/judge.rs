//! What a Gateway API route's status, as its implementation wrote it, means for the
//! GatewayRoute's Ready condition; and the export's findings as a warning condition. Pure.

use crate::api::Reason;
use crate::backoff::Retry;
use crate::gatewayapi::objects::{RouteCondition, RouteStatus};
use crate::gatewayapi::{Finding, Impact};
use crate::reconcile::plan::Problem;
use crate::reconcile::serving::Parent;

/// Whether the route at `generation`, attached to `parent`, is accepted with its backends
/// resolved by the implementation: `Ok` with the Ready message, or why not.
pub fn judge(
    status: &RouteStatus,
    generation: Option<i64>,
    shown: &str,
    parent: &Parent,
    route_namespace: &str,
) -> Result<String, Problem> {
    let entry = status.parents.iter().find(|p| {
        let r = &p.parent_ref;
        r.name == parent.name
            && r.namespace.as_deref().unwrap_or(route_namespace) == parent.namespace
            && r.section_name == parent.section
    });
    let condition = |type_: &str| {
        entry
            .into_iter()
            .flat_map(|e| &e.conditions)
            .find(|c| c.type_ == type_)
            // A condition about an earlier generation says nothing about this one.
            .filter(|c| c.observed_generation >= generation)
    };
    let pending = || Problem {
        reason: Reason::GatewayPending,
        message: format!(
            "{shown} is written; waiting for the implementation of {parent} to accept it \
             (no status for generation {} yet)",
            generation.unwrap_or_default()
        ),
        retry: Retry::AwaitChange,
    };
    // The implementation's own words; some leave the message empty.
    let said = |c: &RouteCondition| {
        format!(
            "{}={} ({}){}",
            c.type_,
            c.status,
            c.reason,
            if c.message.is_empty() {
                String::new()
            } else {
                format!(": {}", c.message)
            }
        )
    };
    let (Some(accepted), Some(resolved)) = (condition("Accepted"), condition("ResolvedRefs"))
    else {
        return Err(pending());
    };
    if accepted.status != "True" {
        // Every failing condition, and the likely cause of the commonest refusal.
        let mut failing = vec![said(accepted)];
        if resolved.status != "True" {
            failing.push(said(resolved));
        }
        let hint =
            if accepted.reason == "NotAllowedByListeners" && parent.namespace != route_namespace {
                format!(
                    "; the route is in namespace {route_namespace} and the Gateway in {}: its \
                 listeners' allowedRoutes admit routes from the Gateway's own namespace unless \
                 allowedRoutes.namespaces.from is All or a Selector that takes {route_namespace}",
                    parent.namespace
                )
            } else {
                String::new()
            };
        return Err(Problem {
            reason: Reason::RouteNotAccepted,
            message: format!(
                "{shown} is not accepted by {parent}: {}{hint}",
                failing.join("; ")
            ),
            retry: Retry::AwaitChange,
        });
    }
    if resolved.status != "True" {
        return Err(Problem {
            reason: Reason::BackendRefsUnresolved,
            message: format!(
                "{shown}: {parent} cannot resolve its backends: {}",
                said(resolved)
            ),
            retry: Retry::AwaitChange,
        });
    }
    let controller = entry.and_then(|e| e.controller_name.as_deref());
    Ok(format!(
        "{shown} is accepted by {parent}{}",
        controller.map(|c| format!(" ({c})")).unwrap_or_default()
    ))
}

/// Why a route that waits for `parent` (`GatewayPending`) waits for ever: the Gateway does not
/// exist.
pub fn no_parent(parent: &Parent, shown: &str) -> Problem {
    Problem {
        reason: Reason::GatewayPending,
        message: format!(
            "{parent} does not exist: create it, or point --serve at one that does; {shown} is \
             written and waits for it"
        ),
        retry: Retry::AwaitChange,
    }
}

/// The reason and message of the findings condition, if the route has findings to show.
pub fn findings_condition(findings: &[Finding]) -> Option<(String, String)> {
    // What a team accepted (`--accept`) it has reviewed: not shown again.
    let shown: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.impact != Impact::NotExported && !f.accepted)
        .collect();
    let first = shown
        .iter()
        .find(|f| f.impact == Impact::Changed)
        .or(shown.first())?;
    let reason = first
        .code
        .as_str()
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|h| h.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    let message = shown
        .iter()
        .map(|f| {
            let impact = match f.impact {
                Impact::Changed => "changed",
                _ => "check",
            };
            format!("{impact} {} ({}): {}", f.field, f.code.as_str(), f.problem)
        })
        .collect::<Vec<_>>()
        .join("; ");
    Some((reason, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gatewayapi::{Code, Requests};
    use serde_json::{Value, json};

    /// A status as an implementation wrote it, read as meshroute reads it.
    fn read(status: &Value) -> RouteStatus {
        serde_json::from_value(status.clone()).unwrap()
    }

    fn parent() -> Parent {
        Parent {
            namespace: "infra".into(),
            name: "shared".into(),
            section: None,
        }
    }

    fn status(accepted: (&str, &str), resolved: (&str, &str), generation: i64) -> Value {
        let c = |t: &str, (s, r): (&str, &str)| {
            json!({ "type": t, "status": s, "reason": r, "message": "said",
                    "observedGeneration": generation })
        };
        json!({ "parents": [{
            "parentRef": { "group": "gateway.networking.k8s.io", "kind": "Gateway",
                           "namespace": "infra", "name": "shared" },
            "controllerName": "traefik.io/gateway-controller",
            "conditions": [c("Accepted", accepted), c("ResolvedRefs", resolved)],
        }] })
    }

    #[test]
    fn the_implementations_conditions_decide_ready() {
        let ok = ("True", "Accepted");
        let rows: [(Value, i64, Option<Reason>); 7] = [
            (status(ok, ("True", "ResolvedRefs"), 2), 2, None),
            (status(ok, ("True", "ResolvedRefs"), 3), 2, None),
            // About an earlier generation: not yet known.
            (
                status(ok, ("True", "ResolvedRefs"), 1),
                2,
                Some(Reason::GatewayPending),
            ),
            (json!({}), 1, Some(Reason::GatewayPending)),
            (
                status(("False", "NotAllowedByListeners"), ("True", "x"), 1),
                1,
                Some(Reason::RouteNotAccepted),
            ),
            (
                status(ok, ("False", "BackendNotFound"), 1),
                1,
                Some(Reason::BackendRefsUnresolved),
            ),
            // Another Gateway's entry says nothing about ours.
            (
                json!({ "parents": [{ "parentRef": { "name": "shared", "namespace": "other" },
                    "conditions": status(ok, ok, 1)["parents"][0]["conditions"] }] }),
                1,
                Some(Reason::GatewayPending),
            ),
        ];
        for (i, (s, generation, want)) in rows.into_iter().enumerate() {
            let got = judge(
                &read(&s),
                Some(generation),
                "HTTPRoute team/web",
                &parent(),
                "team",
            );
            assert_eq!(
                got.as_ref().err().map(|p| p.reason),
                want,
                "row {i}: {got:?}"
            );
            match got {
                Ok(message) => assert!(
                    message.contains("traefik.io/gateway-controller"),
                    "{message}"
                ),
                Err(p) if p.reason != Reason::GatewayPending => {
                    assert!(
                        p.message.contains("(NotAllowedByListeners): said")
                            || p.message.contains("(BackendNotFound): said"),
                        "{}",
                        p.message
                    )
                }
                Err(_) => {}
            }
        }
        // A parentRef without a namespace is in the route's own.
        let mut own = status(("True", "A"), ("True", "R"), 1);
        own["parents"][0]["parentRef"]["namespace"] = Value::Null;
        assert!(judge(&read(&own), Some(1), "r", &parent(), "infra").is_ok());
        assert!(judge(&read(&own), Some(1), "r", &parent(), "team").is_err());
    }

    #[test]
    fn findings_become_one_condition_led_by_a_changed_one() {
        let finding = |code: Code| {
            Finding::about(
                "team/web".into(),
                "spec.httpRoute",
                code,
                format!("{} happened", code.as_str()),
                "",
                Requests::All,
            )
        };
        assert_eq!(findings_condition(&[]), None);
        assert_eq!(findings_condition(&[finding(Code::HeaderInverted)]), None);
        let (reason, message) = findings_condition(&[
            finding(Code::BackendPortAssumed),
            finding(Code::PrefixSegments),
        ])
        .unwrap();
        assert_eq!(reason, "PrefixSegments");
        assert_eq!(
            message,
            "check spec.httpRoute (backend-port-assumed): backend-port-assumed happened; \
             changed spec.httpRoute (prefix-segments): prefix-segments happened"
        );
        // Accepted with --accept: reviewed, not shown again.
        let mut accepted = finding(Code::PrefixSegments);
        accepted.accepted = true;
        let (reason, _) =
            findings_condition(&[finding(Code::BackendPortAssumed), accepted.clone()]).unwrap();
        assert_eq!(reason, "BackendPortAssumed");
        assert_eq!(findings_condition(&[accepted]), None);
    }

    #[test]
    fn a_refusal_names_every_failing_condition_and_the_likely_cause() {
        let mut s = status(
            ("False", "NotAllowedByListeners"),
            ("False", "RefNotPermitted"),
            1,
        );
        // Traefik leaves NotAllowedByListeners' message empty.
        s["parents"][0]["conditions"][0]["message"] = json!("");
        let p = judge(&read(&s), Some(1), "HTTPRoute team/web", &parent(), "team").unwrap_err();
        assert_eq!(p.reason, Reason::RouteNotAccepted);
        assert_eq!(
            p.message,
            "HTTPRoute team/web is not accepted by Gateway infra/shared: Accepted=False \
             (NotAllowedByListeners); ResolvedRefs=False (RefNotPermitted): said; the route is \
             in namespace team and the Gateway in infra: its listeners' allowedRoutes admit \
             routes from the Gateway's own namespace unless allowedRoutes.namespaces.from is All \
             or a Selector that takes team"
        );
        // In the Gateway's own namespace the hint would mislead: none.
        let p = judge(
            &read(&s),
            Some(1),
            "HTTPRoute infra/web",
            &parent(),
            "infra",
        )
        .unwrap_err();
        assert!(!p.message.contains("allowedRoutes"), "{}", p.message);
    }
}
