//! `meshroute verify` offline as a user runs it: bad input is reported and the rest verified.

use std::process::Command;

/// A route that cannot be read is reported with its file and line, every other route is still
/// verified and reported, and the exit status is 1.
#[test]
fn an_unreadable_route_is_reported_and_the_others_verified() {
    let dir = std::env::temp_dir().join(format!("meshroute-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: meshroute.io/v1alpha1\nkind: GatewayRoute\nmetadata: {name: bad}\n\
         spec: {meshName: apps, virtualGatewayName: g, httpRoute: {match: {prefix: /x}}}\n",
    )
    .unwrap();
    let good = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/http-prefix-route.yaml"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_meshroute"))
        .args(["verify", "--report", "json", "-f", good, "-f"])
        .arg(&bad)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("bad.yaml:1: not a valid GatewayRoute: missing field `action`"),
        "{stderr}"
    );
    assert!(stderr.contains("1 input(s) could not be read"), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["summary"]["gatewayRoutes"], 1, "{report}");
    assert_eq!(report["summary"]["requests"], 6, "{report}");
}
