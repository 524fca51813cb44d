//! Which backend serves each virtual gateway's routes (`--serve`): App Mesh (the default), a
//! Gateway API Gateway, or both while traffic moves from one to the other. A team cuts over one
//! gateway at a time, and back, without touching its GatewayRoutes. Pure.

use std::collections::BTreeMap;
use std::fmt;

use crate::gatewayapi::objects::ParentRef;

use crate::api::GatewayRoute;

/// The Gateway (and listener) the Gateway API routes of a virtual gateway attach to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    pub namespace: String,
    pub name: String,
    /// The listener's name, if the routes attach to one listener only.
    pub section: Option<String>,
}

impl Parent {
    /// The parentRef routes carry (the mapping adds a port where the route matches one).
    pub fn reference(&self) -> ParentRef {
        ParentRef {
            name: self.name.clone(),
            namespace: Some(self.namespace.clone()),
            section_name: self.section.clone(),
            port: None,
        }
    }
}

impl Parent {
    /// How a status records it: `namespace/name`, or `namespace/name/listener`.
    pub fn recorded(&self) -> String {
        match &self.section {
            Some(s) => format!("{}/{}/{s}", self.namespace, self.name),
            None => format!("{}/{}", self.namespace, self.name),
        }
    }
}

impl fmt::Display for Parent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gateway {}/{}", self.namespace, self.name)?;
        if let Some(section) = &self.section {
            write!(f, " listener {section}")?;
        }
        Ok(())
    }
}

/// What serves one virtual gateway's routes: one backend or both, never neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serving {
    /// App Mesh holds a gateway route for each GatewayRoute (a gateway no rule names).
    AppMesh,
    /// Both: App Mesh's gateway route, and an HTTPRoute or GRPCRoute attached to this Gateway.
    Both(Parent),
    /// Only the HTTPRoute or GRPCRoute attached to this Gateway.
    GatewayApi(Parent),
}

impl Serving {
    /// App Mesh holds the gateway's routes.
    pub fn app_mesh(&self) -> bool {
        !matches!(self, Serving::GatewayApi(_))
    }

    /// The Gateway its routes attach to, where Gateway API serves it.
    pub fn gateway_api(&self) -> Option<&Parent> {
        match self {
            Serving::AppMesh => None,
            Serving::Both(parent) | Serving::GatewayApi(parent) => Some(parent),
        }
    }
}

/// A rule's BACKEND, as written in `--serve`.
impl fmt::Display for Serving {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let written = |p: &Parent| match &p.section {
            Some(section) => format!("{}/{}/{section}", p.namespace, p.name),
            None => format!("{}/{}", p.namespace, p.name),
        };
        match self {
            Serving::AppMesh => f.write_str("app-mesh"),
            Serving::GatewayApi(parent) => write!(f, "gateway-api:{}", written(parent)),
            Serving::Both(parent) => write!(f, "both:{}", written(parent)),
        }
    }
}

/// One `--serve` rule: `MESH/VIRTUAL_GATEWAY=BACKEND`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub mesh: String,
    /// `None`: every virtual gateway of the mesh (written `*`).
    pub gateway: Option<String>,
    pub serving: Serving,
}

/// Parses `MESH/VIRTUAL_GATEWAY=BACKEND`, BACKEND being `app-mesh`,
/// `gateway-api:NAMESPACE/GATEWAY[/LISTENER]` or `both:NAMESPACE/GATEWAY[/LISTENER]`.
pub fn rule(text: &str) -> Result<Rule, String> {
    let usage = || {
        format!(
            "'{text}': write MESH/VIRTUAL_GATEWAY=BACKEND (VIRTUAL_GATEWAY may be *), BACKEND \
             being app-mesh, gateway-api:NAMESPACE/GATEWAY[/LISTENER] or \
             both:NAMESPACE/GATEWAY[/LISTENER]"
        )
    };
    let (gateway, backend) = text.split_once('=').ok_or_else(usage)?;
    let (mesh, gateway) = gateway.split_once('/').ok_or_else(usage)?;
    if mesh.is_empty() || gateway.is_empty() {
        return Err(usage());
    }
    let (kind, parent) = backend
        .split_once(':')
        .map_or((backend, None), |(k, p)| (k, Some(p)));
    let parse_parent = |p: Option<&str>| -> Result<Parent, String> {
        let parts: Vec<&str> = p.ok_or_else(usage)?.split('/').collect();
        match parts[..] {
            [namespace, name] | [namespace, name, _]
                if !namespace.is_empty() && !name.is_empty() =>
            {
                Ok(Parent {
                    namespace: namespace.into(),
                    name: name.into(),
                    section: parts
                        .get(2)
                        .filter(|s| !s.is_empty())
                        .map(|s| s.to_string()),
                })
            }
            _ => Err(usage()),
        }
    };
    let serving = match (kind, parent) {
        ("app-mesh", None) => Serving::AppMesh,
        ("gateway-api", p) => Serving::GatewayApi(parse_parent(p)?),
        ("both", p) => Serving::Both(parse_parent(p)?),
        _ => return Err(usage()),
    };
    Ok(Rule {
        mesh: mesh.into(),
        gateway: (gateway != "*").then(|| gateway.to_string()),
        serving,
    })
}

/// Every rule, looked up by (mesh, virtual gateway); a gateway's own rule wins over its mesh's.
#[derive(Debug, Clone, Default)]
pub struct Servings {
    rules: BTreeMap<(String, Option<String>), Serving>,
}

impl Servings {
    /// The rules; two that say different things of the same gateway (or of the same mesh's
    /// `*`) are refused, naming both: which one was meant cannot be guessed.
    pub fn new(rules: Vec<Rule>) -> Result<Servings, String> {
        let mut by_gateway: BTreeMap<(String, Option<String>), Serving> = BTreeMap::new();
        for rule in rules {
            let key = (rule.mesh.clone(), rule.gateway.clone());
            if let Some(earlier) = by_gateway.get(&key)
                && *earlier != rule.serving
            {
                let gateway = rule.gateway.as_deref().unwrap_or("*");
                return Err(format!(
                    "--serve names {}/{gateway} twice, as {earlier} and as {}: keep one rule per \
                     virtual gateway",
                    rule.mesh, rule.serving
                ));
            }
            by_gateway.insert(key, rule.serving);
        }
        Ok(Servings { rules: by_gateway })
    }

    /// Each rule as `MESH/VIRTUAL_GATEWAY=BACKEND`, for the start-up log.
    pub fn describe(&self) -> Vec<String> {
        self.rules
            .iter()
            .map(|((mesh, gateway), serving)| {
                format!("{mesh}/{}={serving}", gateway.as_deref().unwrap_or("*"))
            })
            .collect()
    }

    /// What serves `route`'s virtual gateway.
    pub fn of(&self, route: &GatewayRoute) -> &Serving {
        let mesh = &route.spec.mesh_name;
        self.rules
            .get(&(mesh.clone(), Some(route.spec.virtual_gateway_name.clone())))
            .or_else(|| self.rules.get(&(mesh.clone(), None)))
            .unwrap_or(&Serving::AppMesh)
    }

    /// Whether any gateway is served by Gateway API (the operator then watches its routes).
    pub fn any_gateway_api(&self) -> bool {
        self.rules.values().any(|s| s.gateway_api().is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::testing::object;

    fn route_on(mesh: &str, gateway: &str) -> GatewayRoute {
        let mut route = object("r", "/", "svc");
        route.spec.mesh_name = mesh.into();
        route.spec.virtual_gateway_name = gateway.into();
        route
    }

    fn parent(ns: &str, name: &str, section: Option<&str>) -> Parent {
        Parent {
            namespace: ns.into(),
            name: name.into(),
            section: section.map(String::from),
        }
    }

    #[test]
    fn rules_parse_or_say_how_to_write_them() {
        // (text, (mesh, gateway, serving) parsed, or an error).
        type Parsed<'a> = Option<(&'a str, Option<&'a str>, Serving)>;
        let rows: [(&str, Parsed); 9] = [
            ("m/vg=app-mesh", Some(("m", Some("vg"), Serving::AppMesh))),
            (
                "m/vg=gateway-api:infra/shared",
                Some((
                    "m",
                    Some("vg"),
                    Serving::GatewayApi(parent("infra", "shared", None)),
                )),
            ),
            (
                "m/*=both:infra/shared/http",
                Some((
                    "m",
                    None,
                    Serving::Both(parent("infra", "shared", Some("http"))),
                )),
            ),
            ("m/vg=gateway-api", None),
            ("m/vg=both:shared", None),
            ("m/vg=app-mesh:infra/shared", None),
            ("m=app-mesh", None),
            ("/vg=app-mesh", None),
            ("m/vg=lattice:a/b", None),
        ];
        for (text, want) in rows {
            let got = rule(text);
            match want {
                Some((mesh, gateway, serving)) => assert_eq!(
                    got,
                    Ok(Rule {
                        mesh: mesh.into(),
                        gateway: gateway.map(String::from),
                        serving
                    }),
                    "{text}"
                ),
                None => assert!(
                    got.as_ref()
                        .is_err_and(|e| e.contains("MESH/VIRTUAL_GATEWAY=")),
                    "{text}: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn a_gateways_rule_wins_over_its_meshs_and_others_stay_on_app_mesh() {
        let servings = Servings::new(vec![
            rule("m/*=gateway-api:infra/all").unwrap(),
            rule("m/vg=both:infra/one").unwrap(),
        ])
        .unwrap();
        let on = |mesh: &str, vg: &str| servings.of(&route_on(mesh, vg)).clone();
        assert_eq!(on("m", "vg"), Serving::Both(parent("infra", "one", None)));
        assert_eq!(
            on("m", "other"),
            Serving::GatewayApi(parent("infra", "all", None))
        );
        assert_eq!(on("n", "vg"), Serving::AppMesh);
        assert!(servings.any_gateway_api());
        assert!(!Servings::default().any_gateway_api());
    }

    #[test]
    fn contradictory_rules_are_refused_and_the_rules_are_described_as_written() {
        let rules =
            |texts: &[&str]| Servings::new(texts.iter().map(|t| rule(t).unwrap()).collect());
        let e = rules(&["m/vg=app-mesh", "m/vg=gateway-api:infra/gw"]).unwrap_err();
        assert_eq!(
            e,
            "--serve names m/vg twice, as app-mesh and as gateway-api:infra/gw: keep one rule per \
             virtual gateway"
        );
        assert!(rules(&["m/*=both:a/b", "m/*=gateway-api:a/b"]).is_err());
        // The same rule twice says one thing.
        let same = rules(&[
            "m/vg=both:infra/gw/http",
            "m/vg=both:infra/gw/http",
            "m/*=app-mesh",
        ])
        .unwrap();
        assert_eq!(same.describe(), ["m/*=app-mesh", "m/vg=both:infra/gw/http"]);
    }
}
