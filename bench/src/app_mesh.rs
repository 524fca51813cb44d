//! The App Mesh waves: create, update and delete N GatewayRoutes, and the steady state between.

use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::floor::kubernetes_writes;
use crate::run::{Run, calls_per_object, counters, percentile, round, route, seen, wait_all};

/// Creates N objects with 32 creates in flight and waits until all are Ready.
pub async fn create_wave(run: &Run, n: usize) -> Value {
    let before = counters(run);
    let changes_before = seen(run).events;
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| async move {
            run.api
                .create(&PostParams::default(), &route(run, i))
                .await
                .expect("create");
            seen(run).applied.insert(format!("r{i}"), Instant::now());
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let applied_in = start.elapsed();
    let limit = Duration::from_secs(120 + n as u64 / 10);
    wait_all(run, "create wave", limit, |s| {
        (0..n).all(|i| s.ready.contains_key(&(format!("r{i}"), 1)))
    })
    .await;
    // Let the last status writes' Events land before counting them.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let changes = seen(run).events - changes_before;
    let writes = kubernetes_writes(run, changes, n).await;
    let s = seen(run);
    let last = (0..n)
        .map(|i| s.ready[&(format!("r{i}"), 1)])
        .max()
        .unwrap();
    let latencies: Vec<f64> = (0..n)
        .map(|i| {
            s.ready[&(format!("r{i}"), 1)]
                .saturating_duration_since(s.applied[&format!("r{i}")])
                .as_secs_f64()
        })
        .collect();
    json!({
        "seconds_to_all_ready": round(last.duration_since(start).as_secs_f64()),
        "seconds_to_apply_all": round(applied_in.as_secs_f64()),
        "p50_apply_to_ready": round(percentile(latencies.clone(), 0.5)),
        "p99_apply_to_ready": round(percentile(latencies, 0.99)),
        "appmesh_calls_per_object": calls_per_object(&before, &counters(run), n),
        "kubernetes_writes_per_object": writes,
    })
}

pub async fn update_wave(run: &Run, n: usize) -> Value {
    let before = counters(run);
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| async move {
            run.api
                .patch(
                    &format!("r{i}"),
                    &PatchParams::default(),
                    &Patch::Merge(json!({ "spec": { "priority": 5 } })),
                )
                .await
                .expect("patch");
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    wait_all(
        run,
        "update wave",
        Duration::from_secs(120 + n as u64 / 10),
        |s| (0..n).all(|i| s.ready.contains_key(&(format!("r{i}"), 2))),
    )
    .await;
    json!({
        "seconds_to_all_ready": round(start.elapsed().as_secs_f64()),
        "appmesh_calls_per_object": calls_per_object(&before, &counters(run), n),
    })
}

pub async fn steady(run: &Run, seconds: u64) -> Value {
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = counters(run)["total"].as_u64().unwrap();
    let events = seen(run).events;
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    json!({
        "seconds": seconds,
        "appmesh_calls": counters(run)["total"].as_u64().unwrap() - before,
        "object_changes_seen_by_watch": seen(run).events - events,
    })
}

pub async fn delete_wave(run: &Run, n: usize) -> Value {
    let before = counters(run);
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| async move {
            run.api
                .delete(&format!("r{i}"), &DeleteParams::default())
                .await
                .expect("delete");
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    wait_all(
        run,
        "delete wave",
        Duration::from_secs(120 + n as u64 / 10),
        |s| (0..n).all(|i| s.gone.contains_key(&format!("r{i}"))),
    )
    .await;
    json!({
        "seconds_to_all_gone": round(start.elapsed().as_secs_f64()),
        "appmesh_calls_per_object": calls_per_object(&before, &counters(run), n),
    })
}
