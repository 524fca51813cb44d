//! What the mapping's golden cases (tests/fixtures/export, run by tests/export_cases.rs: every
//! row of docs/migration.md's mapping table, a GatewayRoute in and the objects and findings out)
//! do not show: the finding codes as stable text, accepting them, and the guide's list of them.

use serde_json::json;

use super::*;

fn route(spec: serde_json::Value) -> GatewayRoute {
    serde_json::from_value(json!({
        "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
        "metadata": { "name": "r", "namespace": "shop" },
        "spec": spec,
    }))
    .unwrap()
}

#[test]
fn every_code_is_stable_text_and_accepting_a_kind_clears_it_for_strict() {
    for code in Code::ALL {
        assert_eq!(Code::parse(code.as_str()), Some(code));
        assert_eq!(
            serde_json::to_value(code).unwrap(),
            json!(code.as_str()),
            "the JSON report writes what --accept takes"
        );
    }
    assert_eq!(Code::PrefixSegments.as_str(), "prefix-segments");
    assert_eq!(Code::Http2AppProtocol.as_str(), "http2-app-protocol");
    let api = route(
        json!({ "meshName": "m", "virtualGatewayName": "g", "httpRoute": {
        "match": { "prefix": "/api" },
        "action": { "target": { "virtualService": {
            "virtualServiceName": "web.shop.svc.cluster.local" } } } } }),
    );
    let mut out = export(
        &[api],
        &Options {
            backend_port: 80,
            ..Default::default()
        },
    );
    let codes: Vec<Code> = out.findings.iter().map(|f| f.code).collect();
    assert!(codes.contains(&Code::PrefixSegments), "{codes:?}");
    assert_eq!(out.losses(), 1);
    out.accept(&[Code::PrefixSegments]);
    assert_eq!(out.losses(), 0);
    assert!(out.findings.iter().any(|f| f.accepted));
}

/// docs/migration.md lists every code with its impact, as a team reads them before `--accept`.
#[test]
fn the_migration_guide_lists_every_code() {
    let guide = include_str!("../../docs/migration.md");
    for code in Code::ALL {
        let impact = serde_json::to_value(code.impact()).unwrap();
        let row = format!("| `{}` | {} |", code.as_str(), impact.as_str().unwrap());
        assert!(guide.contains(&row), "docs/migration.md lacks {row}");
    }
}
