//! `meshroute verify` offline at N routes: the requests it makes and the time and memory it
//! takes, the release binary run as a user runs it (`verify -f FILE --report json`), on one
//! virtual gateway with N routes of the shapes a gateway carries: nested prefixes (`/r1` starts
//! `/r10`), exact paths on host names, header matches, http2 prefixes, gRPC services and a few
//! regular expressions.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::run::round;

/// Route `i` of the verify scenario, as a manifest.
fn route(i: usize) -> Value {
    let target = json!({ "target": { "virtualService": {
        "virtualServiceName": format!("s{}.apps.svc.cluster.local", i % 20) } } });
    let spec = match i % 10 {
        _ if i % 1000 == 999 => json!({ "httpRoute": { "match": {
            "path": { "regex": format!("/re{i}/[0-9]+") } }, "action": target } }),
        6 => json!({ "httpRoute": { "match": { "path": { "exact": format!("/r{i}/health") },
            "hostname": { "exact": format!("h{}.example.com", i % 50) } }, "action": target } }),
        7 => json!({ "httpRoute": { "match": { "prefix": format!("/api/v{i}/"),
            "headers": [{ "name": "x-tenant", "match": { "exact": format!("t{i}") } }] },
            "action": target } }),
        8 => {
            json!({ "http2Route": { "match": { "prefix": format!("/s{i}/") }, "action": target } })
        }
        9 => json!({ "grpcRoute": { "match": { "serviceName": format!("pkg.S{i}") },
            "action": target } }),
        _ => json!({ "httpRoute": { "match": { "prefix": format!("/r{i}") }, "action": target } }),
    };
    let mut spec = spec;
    spec["meshName"] = json!("apps");
    spec["virtualGatewayName"] = json!("gw");
    json!({ "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
        "metadata": { "name": format!("r{i}"), "namespace": "shop" }, "spec": spec })
}

/// One verify run over `n` routes written to `dir`: wall seconds, requests, peak RSS.
fn verify_at(operator: &Path, dir: &Path, n: usize) -> Value {
    let file = dir.join(format!("verify-{n}.json"));
    let list = json!({ "apiVersion": "v1", "kind": "List",
        "items": (0..n).map(route).collect::<Vec<_>>() });
    std::fs::write(&file, list.to_string()).expect("write the routes");
    let out = dir.join(format!("verify-{n}.report.json"));
    let started = Instant::now();
    let mut child = std::process::Command::new(operator)
        .args(["verify", "-f"])
        .arg(&file)
        .args(["--report", "json"])
        .stdout(std::fs::File::create(&out).expect("create the report"))
        .spawn()
        .expect("run meshroute verify");
    // VmHWM read until the process exits: its peak, to within the last 5 ms.
    let mut peak_kib = 0.0_f64;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for meshroute verify") {
            break status;
        }
        let kib = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        peak_kib = peak_kib.max(kib);
        std::thread::sleep(Duration::from_millis(5));
    };
    let seconds = started.elapsed().as_secs_f64();
    assert!(status.success(), "meshroute verify failed: {status}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("read the report"))
            .expect("verify's JSON report");
    let summary = &report["summary"];
    assert_eq!(summary["gatewayRoutes"], n, "{summary}");
    json!({ "n": n, "seconds": round(seconds), "peak_rss_mib": round(peak_kib / 1024.0),
        "requests": summary["requests"], "alike": summary["alike"],
        "different": summary["announced"].as_u64().unwrap_or(0)
            + summary["unannounced"].as_u64().unwrap_or(0) })
}

/// verify at each N.
pub fn verify_sizes(operator: &Path, sizes: &[usize]) -> Value {
    let dir = std::env::temp_dir().join(format!("meshroute-bench-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let runs: Vec<Value> = sizes
        .iter()
        .map(|&n| {
            eprintln!("bench: meshroute verify over {n} routes");
            let r = verify_at(operator, &dir, n);
            eprintln!("  {r}");
            r
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    json!(runs)
}
