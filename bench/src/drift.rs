//! The drift scenario: routes changed and deleted behind meshroute's back, found by the drift
//! pass a page at a time.

use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::PostParams;
use meshroute_testbed::{ControlPlane, Operator};
use serde_json::{Value, json};

use crate::Args;
use crate::run::{
    Run, calls_of, counters, percentile, ready, round, route, seen, start_run, usage, wait_all,
};

/// The second virtual gateway of the drift scenario.
pub const GATEWAY_2: &str = "myVirtualGateway2";

/// N routes in sync on two gateways (made by an operator without a rate limit), then a fresh
/// operator at App Mesh's default budget (10 calls/s, burst 20) and a short drift period: what a
/// restart costs, what each drift pass costs, and how long 20 routes applied during the passes
/// take to become Ready.
pub async fn drift_scenario(plane: &ControlPlane, args: &Args, n: usize) -> Value {
    let mut run = start_run(plane, args, &[], 0).await;
    run.emulator
        .emulator
        .invoke(
            "CreateVirtualGateway",
            &json!({ "meshName": meshroute_testbed::MESH, "virtualGatewayName": GATEWAY_2,
                     "spec": { "listeners": [{ "portMapping": { "port": 8080, "protocol": "http2" } }] } }),
        )
        .unwrap();
    let on_gateway = |run: &Run, i: usize| {
        let mut r = route(run, i);
        if i % 2 == 1 {
            r.spec.virtual_gateway_name = GATEWAY_2.into();
        }
        r
    };
    let started = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let r = on_gateway(&run, i);
            let run = &run;
            async move {
                run.api
                    .create(&PostParams::default(), &r)
                    .await
                    .expect("create");
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    wait_all(
        &run,
        "drift set-up",
        Duration::from_secs(300 + n as u64 / 10),
        |s| (0..n).all(|i| s.ready.contains_key(&(format!("r{i}"), 1))),
    )
    .await;
    let set_up = started.elapsed().as_secs_f64();

    // A restart at the default budget.
    run.operator.kill();
    run.emulator.emulator.reset_counters();
    let period = args.drift_period.to_string();
    let concurrency = args.concurrency.to_string();
    run.operator = Operator::start(
        &args.operator,
        &plane.kubeconfig,
        &run.emulator.endpoint(),
        &run.label,
        &[
            "--leader-election",
            "false",
            "--concurrency",
            &concurrency,
            "--resync-period",
            &period,
            "--tag-check-period",
            "0",
            "--retry-base",
            "200ms",
            "--retry-max",
            "5s",
        ],
        plane.dir().join(format!("operator-{}-drift.log", run.ns)),
    )
    .expect("start the operator");
    let restart = Instant::now();
    // The first pass comes one period after the start; what happens before it is the restart.
    tokio::time::sleep(Duration::from_secs(args.drift_period / 2)).await;
    let restart_calls = counters(&run)["total"].as_u64().unwrap();
    let restart_describes = calls_of(&run, "DescribeGatewayRoute");

    // At rest: every route in sync, one whole drift period (a pass included) with nothing
    // changed. What the operator logs at info then is what an SRE reads at rest.
    let quiet_from = run.operator.log().lines().count();
    tokio::time::sleep(Duration::from_secs(args.drift_period)).await;
    let info_at_rest = run
        .operator
        .log()
        .lines()
        .skip(quiet_from)
        .filter(|l| l.contains("\"level\":\"INFO\""))
        .count();
    let info_per_minute_at_rest = info_at_rest as f64 * 60.0 / args.drift_period as f64;

    // Three passes, with 20 new routes applied across them.
    run.emulator.emulator.reset_counters();
    let window = Instant::now();
    let passes = 3;
    let gap = Duration::from_secs(args.drift_period * passes) / 20;
    for k in 0..20 {
        let i = n + k;
        let r = on_gateway(&run, i);
        run.api
            .create(&PostParams::default(), &r)
            .await
            .expect("create");
        seen(&run).applied.insert(format!("r{i}"), Instant::now());
        tokio::time::sleep(gap).await;
    }
    let remaining =
        Duration::from_secs(args.drift_period * passes).saturating_sub(window.elapsed());
    tokio::time::sleep(remaining).await;
    wait_all(&run, "new routes", Duration::from_secs(60), |s| {
        (n..n + 20).all(|i| s.ready.contains_key(&(format!("r{i}"), 1)))
    })
    .await;
    let lists = calls_of(&run, "ListGatewayRoutes");
    let describes = calls_of(&run, "DescribeGatewayRoute");
    let tags = calls_of(&run, "ListTagsForResource");
    let latencies: Vec<f64> = {
        let s = seen(&run);
        (n..n + 20)
            .map(|i| {
                s.ready[&(format!("r{i}"), 1)]
                    .duration_since(s.applied[&format!("r{i}")])
                    .as_secs_f64()
            })
            .collect()
    };
    // Every object, old and new, Ready now.
    let list = run.api.list(&Default::default()).await.unwrap();
    let not_ready = list.items.iter().filter(|r| !ready(r)).count();
    let operator = usage(run.operator.pid());
    let pass_calls = (lists + describes + tags) as f64 / passes as f64;
    json!({
        "n": n, "gateways": 2, "period_seconds": args.drift_period, "rate_limit": 10, "burst": 20,
        "set_up_seconds": round(set_up),
        "restart": { "appmesh_calls_in_first_half_period": restart_calls, "describes": restart_describes,
                     "seconds": round(restart.elapsed().as_secs_f64().min(args.drift_period as f64 / 2.0)) },
        "passes": passes, "calls_per_pass": round(pass_calls), "bound_ceil_n_100_plus_g": n.div_ceil(100) + 2,
        "list_calls": lists, "describe_calls": describes, "tag_calls": tags,
        "new_routes": { "n": 20, "p50_apply_to_ready": round(percentile(latencies.clone(), 0.5)),
                        "p99_apply_to_ready": round(percentile(latencies, 0.99)) },
        "objects_not_ready_at_end": not_ready,
        "info_log_lines_per_minute_at_rest": round(info_per_minute_at_rest),
        "operator": operator,
    })
}
