//! `VirtualGatewayPolicy` (`meshroute.io/v1alpha1`, cluster-scoped): which namespaces may attach
//! GatewayRoutes to a mesh's virtual gateway, and which host names and path prefixes each may
//! claim. Shaped after Gateway API's `Gateway.spec.listeners[].allowedRoutes` (namespaces `All`
//! or by `Selector`, plus a list of names) and the App Mesh controller's
//! `VirtualGateway.spec.namespaceSelector`.
//!
//! The rule, enforced twice with the same meaning: by the ValidatingAdmissionPolicy the chart
//! installs (`kubectl apply` is refused) and by the operator ([`refusal`], reason
//! `NotPermitted`). A route must be admitted by every policy that governs its gateway (one whose
//! `meshName` is the route's and whose `virtualGatewayName` is the route's or unset); a policy
//! admits it when one of its grants admits the route's namespace and all of the route's claims.

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::GatewayRouteSpec;
use super::matching::{Host, Matcher};

/// Who may attach routes to a mesh's virtual gateway (or all of its virtual gateways), and what
/// each may claim. Without any policy for a gateway, every namespace may (unless the operator
/// runs with `--require-policy`).
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "meshroute.io",
    version = "v1alpha1",
    kind = "VirtualGatewayPolicy",
    shortname = "vgp",
    category = "meshroute",
    derive = "PartialEq",
    doc = "A VirtualGatewayPolicy says which namespaces may attach GatewayRoutes to a mesh's virtual gateway, and which host names and path prefixes each may claim.",
    printcolumn = r#"{"name":"Mesh","type":"string","jsonPath":".spec.meshName"}"#,
    printcolumn = r#"{"name":"Gateway","type":"string","jsonPath":".spec.virtualGatewayName"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualGatewayPolicySpec {
    /// The App Mesh mesh whose virtual gateway this policy governs.
    #[schemars(length(min = 1, max = 255))]
    pub mesh_name: String,
    /// The virtual gateway it governs; unset: every virtual gateway of the mesh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub virtual_gateway_name: Option<String>,
    /// Who may attach routes, each with what they may claim. A route is admitted when one
    /// grant admits its namespace and all of its claims; an empty list admits nobody.
    #[schemars(length(max = 64))]
    pub grants: Vec<Grant>,
}

/// Namespaces, and what their routes may claim.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.from != 'Names' || has(self.names)").message("from: Names needs names"),
    validation = Rule::new("self.from != 'Selector' || has(self.selector)").message("from: Selector needs a selector")
)]
pub struct Namespaces {
    /// `All` namespaces, the namespaces listed in `names`, or those whose labels match
    /// `selector`.
    pub from: From,
    /// The namespaces admitted, with `from: Names`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), inner(length(min = 1, max = 63)))]
    pub names: Option<Vec<String>>,
    /// The labels a namespace must carry, with `from: Selector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Selector>,
}

/// Which namespaces.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum From {
    All,
    Names,
    Selector,
}

/// A namespace label selector: every label given must be on the namespace with that value.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    #[schemars(extend("maxProperties" = 32))]
    pub match_labels: BTreeMap<String, String>,
}

/// One grant: namespaces, and the host names and path prefixes their routes may claim.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    /// The namespaces this grant admits.
    pub namespaces: Namespaces,
    /// Host names their routes may match: `shop.example.com`, or `*.example.com` for any name
    /// under it. A route must then match a host name (exact or suffix) inside one of them.
    /// Unset: any host name, or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), inner(length(min = 1, max = 253)))]
    pub hostnames: Option<Vec<String>>,
    /// Path prefixes their routes must stay under (App Mesh's string prefixes): a route's
    /// prefix or exact path must start with one of them (a gRPC route's `/<service>/`). A
    /// route that matches every path, or a regular expression, is then refused. Unset: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), inner(length(min = 1, max = 255)))]
    pub path_prefixes: Option<Vec<String>>,
}

impl VirtualGatewayPolicySpec {
    /// Whether this policy governs routes on `mesh`'s `gateway`.
    pub fn governs(&self, mesh: &str, gateway: &str) -> bool {
        self.mesh_name == mesh
            && self
                .virtual_gateway_name
                .as_deref()
                .is_none_or(|g| g == gateway)
    }

    /// What it admits, in words: the same text the admission policy's message gives.
    pub fn describe(&self) -> String {
        if self.grants.is_empty() {
            return "no namespace".into();
        }
        self.grants
            .iter()
            .map(Grant::describe)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Grant {
    fn describe(&self) -> String {
        let who = match self.namespaces.from {
            From::All => "all namespaces".to_string(),
            From::Names => format!(
                "namespaces {}",
                self.namespaces
                    .names
                    .as_deref()
                    .unwrap_or_default()
                    .join(", ")
            ),
            From::Selector => "namespaces matching its selector".to_string(),
        };
        let hosts = self
            .hostnames
            .as_ref()
            .map(|h| format!(" for host names {}", h.join(", ")))
            .unwrap_or_default();
        let paths = self
            .path_prefixes
            .as_ref()
            .map(|p| format!(" under {}", p.join(", ")))
            .unwrap_or_default();
        format!("{who}{hosts}{paths}")
    }

    fn admits_namespace(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        let ns = &self.namespaces;
        match ns.from {
            From::All => true,
            From::Names => ns.names.iter().flatten().any(|n| n == name),
            From::Selector => ns.selector.as_ref().is_some_and(|s| {
                s.match_labels
                    .iter()
                    .all(|(k, v)| labels.get(k).is_some_and(|l| l == v))
            }),
        }
    }

    fn admits_host(&self, matcher: Option<&Matcher>) -> bool {
        let Some(allowed) = &self.hostnames else {
            return true;
        };
        let host = matcher.and_then(Matcher::host);
        allowed.iter().any(|entry| {
            let under = entry.strip_prefix('*');
            match (host, under) {
                (Some(Host::Exact(h)), None) => **h == **entry,
                (Some(Host::Exact(h)), Some(domain)) => h.ends_with(domain),
                (Some(Host::Suffix(s)), Some(domain)) => s.ends_with(domain),
                _ => false,
            }
        })
    }

    fn admits_path(&self, matcher: Option<&Matcher>) -> bool {
        let Some(allowed) = &self.path_prefixes else {
            return true;
        };
        matcher
            .and_then(Matcher::claimed_prefix)
            .is_some_and(|p| allowed.iter().any(|a| p.starts_with(a.as_str())))
    }
}

/// Why a route may not be on its gateway: the policy that refuses it, and the message
/// (`NotPermitted`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub policy: String,
    pub message: String,
}

/// The first of `policies` that refuses a route of namespace `namespace` (with `labels`) and
/// spec `spec`; `None` when every policy governing its gateway admits it. `required`: with no
/// policy for the gateway at all, the route is refused too.
pub fn refusal<'a>(
    policies: impl IntoIterator<Item = &'a VirtualGatewayPolicy>,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    spec: &GatewayRouteSpec,
    required: bool,
) -> Option<Refusal> {
    let matcher = Matcher::of(spec);
    let (mesh, gateway) = (&spec.mesh_name, &spec.virtual_gateway_name);
    let mut governed = false;
    for policy in policies {
        if !policy.spec.governs(mesh, gateway) {
            continue;
        }
        governed = true;
        let admitted = policy.spec.grants.iter().any(|g| {
            g.admits_namespace(namespace, labels)
                && g.admits_host(matcher.as_ref())
                && g.admits_path(matcher.as_ref())
        });
        if !admitted {
            let name = policy.metadata.name.clone().unwrap_or_default();
            return Some(Refusal {
                message: format!(
                    "not permitted on {mesh}/{gateway} by VirtualGatewayPolicy {name}, which \
                     admits {}",
                    policy.spec.describe()
                ),
                policy: name,
            });
        }
    }
    (required && !governed).then(|| Refusal {
        policy: String::new(),
        message: format!(
            "not permitted on {mesh}/{gateway}: no VirtualGatewayPolicy governs it, and this \
             operator requires one (--require-policy)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn policy(name: &str, spec: serde_json::Value) -> VirtualGatewayPolicy {
        serde_json::from_value(json!({
            "apiVersion": "meshroute.io/v1alpha1", "kind": "VirtualGatewayPolicy",
            "metadata": { "name": name }, "spec": spec,
        }))
        .unwrap()
    }

    fn route(m: serde_json::Value) -> GatewayRouteSpec {
        serde_json::from_value(json!({ "meshName": "apps", "virtualGatewayName": "gw",
            "httpRoute": { "match": m, "action": { "target": { "virtualService": {
                "virtualServiceName": "svc" } } } } }))
        .unwrap()
    }

    #[test]
    fn namespaces_host_names_and_paths_as_each_grant_says() {
        let payments = policy(
            "payments",
            json!({ "meshName": "apps", "virtualGatewayName": "gw", "grants": [
                { "namespaces": { "from": "Names", "names": ["team-a"] },
                  "hostnames": ["pay.example.com", "*.pay.example.com"], "pathPrefixes": ["/payments"] },
                { "namespaces": { "from": "Selector", "selector": { "matchLabels": { "tier": "web" } } },
                  "pathPrefixes": ["/web/"] } ] }),
        );
        let other_gateway = policy(
            "elsewhere",
            json!({ "meshName": "apps", "virtualGatewayName": "other", "grants": [] }),
        );
        let web = BTreeMap::from([("tier".to_string(), "web".to_string())]);
        let none = BTreeMap::new();
        let pay_host = json!({ "exact": "pay.example.com" });
        let cases = [
            (
                "team-a",
                &none,
                json!({ "prefix": "/payments/v1", "hostname": pay_host }),
                true,
            ),
            (
                "team-a",
                &none,
                json!({ "prefix": "/payments", "hostname": { "suffix": ".eu.pay.example.com" } }),
                true,
            ),
            (
                "team-a",
                &none,
                json!({ "path": { "exact": "/payments" }, "hostname": { "exact": "a.pay.example.com" } }),
                true,
            ),
            // No host name: it would take every host's traffic.
            ("team-a", &none, json!({ "prefix": "/payments" }), false),
            (
                "team-a",
                &none,
                json!({ "prefix": "/pay", "hostname": pay_host }),
                false,
            ),
            (
                "team-a",
                &none,
                json!({ "prefix": "/payments", "hostname": { "exact": "evil.example.com" } }),
                false,
            ),
            // A suffix wider than the grant's domain.
            (
                "team-a",
                &none,
                json!({ "prefix": "/payments", "hostname": { "suffix": "example.com" } }),
                false,
            ),
            (
                "team-a",
                &none,
                json!({ "path": { "regex": "/payments/.*" }, "hostname": pay_host }),
                false,
            ),
            ("team-b", &web, json!({ "prefix": "/web/shop" }), true),
            ("team-b", &web, json!({ "prefix": "/" }), false),
            ("team-b", &none, json!({ "prefix": "/web/shop" }), false),
            (
                "team-c",
                &none,
                json!({ "prefix": "/payments", "hostname": pay_host }),
                false,
            ),
        ];
        for (ns, labels, m, admitted) in cases {
            let spec = route(m.clone());
            let got = refusal([&payments, &other_gateway], ns, labels, &spec, false);
            assert_eq!(got.is_none(), admitted, "{ns} {m}: {got:?}");
            if let Some(r) = got {
                assert_eq!(r.policy, "payments");
                assert!(
                    r.message.contains(
                        "admits namespaces team-a for host names pay.example.com, \
                         *.pay.example.com under /payments; namespaces matching its selector under /web/"
                    ),
                    "{}",
                    r.message
                );
            }
        }
    }

    #[test]
    fn without_a_policy_everyone_may_unless_one_is_required() {
        let spec = route(json!({ "prefix": "/" }));
        let unrelated = policy("m2", json!({ "meshName": "other", "grants": [] }));
        assert_eq!(
            refusal([&unrelated], "ns", &BTreeMap::new(), &spec, false),
            None
        );
        let required = refusal([&unrelated], "ns", &BTreeMap::new(), &spec, true).unwrap();
        assert!(
            required.message.contains("--require-policy"),
            "{required:?}"
        );
        // A mesh-wide policy governs every gateway of the mesh; every governing policy must admit.
        let all = policy(
            "all",
            json!({ "meshName": "apps", "grants": [{ "namespaces": { "from": "All" } }] }),
        );
        let none = policy(
            "none",
            json!({ "meshName": "apps", "virtualGatewayName": "gw", "grants": [] }),
        );
        assert_eq!(refusal([&all], "ns", &BTreeMap::new(), &spec, true), None);
        let refused = refusal([&all, &none], "ns", &BTreeMap::new(), &spec, false).unwrap();
        assert_eq!(refused.policy, "none");
        assert!(
            refused.message.ends_with("which admits no namespace"),
            "{refused:?}"
        );
    }

    #[test]
    fn grpc_routes_claim_their_service_path() {
        let p = policy(
            "grpc",
            json!({ "meshName": "apps", "grants": [
            { "namespaces": { "from": "All" }, "pathPrefixes": ["/echo.v1."] } ] }),
        );
        let grpc = |m: serde_json::Value| -> GatewayRouteSpec {
            serde_json::from_value(json!({ "meshName": "apps", "virtualGatewayName": "gw",
                "grpcRoute": { "match": m, "action": { "target": { "virtualService": {
                    "virtualServiceName": "svc" } } } } }))
            .unwrap()
        };
        let labels = BTreeMap::new();
        assert_eq!(
            refusal(
                [&p],
                "ns",
                &labels,
                &grpc(json!({ "serviceName": "echo.v1.Echo" })),
                false
            ),
            None
        );
        assert!(
            refusal(
                [&p],
                "ns",
                &labels,
                &grpc(json!({ "serviceName": "billing.v1.Pay" })),
                false
            )
            .is_some()
        );
        assert!(refusal([&p], "ns", &labels, &grpc(json!({ "port": 8080 })), false).is_some());
    }
}
