//! Requests through a gateway and the echo backends behind it, shared by the tests that send
//! traffic: a request as curl sends it and what it reached (`meshroute_testbed::traffic`), and
//! the Services and EndpointSlices that lead a Gateway API implementation to the backends.

use std::time::{Duration, Instant};

use serde_json::Value;

use meshroute_testbed::gateway_api;
pub use meshroute_testbed::gateway_api::Backend;

use super::run;

/// A Service and EndpointSlice per backend (`meshroute_testbed::gateway_api::backend_objects`),
/// applied.
pub fn apply_backends(backends: &[Backend]) {
    let list = gateway_api::list(gateway_api::backend_objects(backends));
    let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&list));
    assert!(ok, "apply backends: {out}{err}");
}

/// Waits until Traefik has accepted every exported route and resolved its backends.
pub fn wait_accepted(namespaces: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let mut pending = Vec::new();
        for ns in namespaces {
            let (ok, out, err) = run(
                "kubectl",
                &["get", "httproutes,grpcroutes", "-n", ns, "-o", "json"],
                None,
            );
            assert!(ok, "{out}{err}");
            let list: Value = serde_json::from_str(&out).unwrap();
            for route in list["items"].as_array().unwrap() {
                let conditions: Vec<&Value> = route["status"]["parents"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|p| p["conditions"].as_array().into_iter().flatten())
                    .collect();
                let good = |t: &str| {
                    conditions
                        .iter()
                        .any(|c| c["type"] == t && c["status"] == "True")
                };
                if !(good("Accepted") && good("ResolvedRefs")) {
                    pending.push(format!(
                        "{ns}/{}: {}",
                        route["metadata"]["name"], route["status"]
                    ));
                }
            }
        }
        if pending.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Traefik did not accept these routes within 90 s:\n{}",
            pending.join("\n")
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}
