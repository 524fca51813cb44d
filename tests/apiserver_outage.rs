//! The apiserver goes away mid-rollout and comes back: due work resumes within seconds of its
//! return, however long it was away. Alone in its test binary, because it stops the binary's
//! shared control plane.

mod support;

use std::time::{Duration, Instant};

use support::{Bed, http2_spec, reason};

const A: &str = "myservicea.svc.cluster.local";

#[tokio::test]
async fn work_resumes_within_seconds_of_the_apiservers_return() {
    let mut bed = Bed::new("apiserver").await;
    // The default retry ceiling (5 m), and a rollout slow enough to be cut in the middle.
    let op = bed.operator(&[
        "--retry-max",
        "5m",
        "--appmesh-rps",
        "4",
        "--appmesh-burst",
        "1",
        "--resync-period",
        "0",
    ]);
    let names: Vec<String> = (0..20).map(|i| format!("r{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        bed.create(&bed.route(name, http2_spec(A, &format!("/r{i}"))))
            .await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while ready_count(&bed, &names).await < 3 {
        assert!(Instant::now() < deadline, "no progress:\n{}", op.log_tail());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    tokio::task::spawn_blocking(|| meshroute_testbed::shared().stop_apiserver())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(40)).await;
    tokio::task::spawn_blocking(|| meshroute_testbed::shared().start_apiserver())
        .await
        .unwrap()
        .expect("the apiserver starts again");
    let back = Instant::now();
    let ready_then = ready_count(&bed, &names).await;
    assert!(
        ready_then < 20,
        "the rollout finished before the outage; nothing tested"
    );

    // Due work: the objects that were not Ready yet (their finalizers were added, or their
    // routes created, while the apiserver was away).
    let first_progress = loop {
        if ready_count(&bed, &names).await > ready_then {
            break back.elapsed();
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "no progress after the apiserver returned:\n{}",
            op.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    while ready_count(&bed, &names).await < names.len() {
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "due work did not finish:\n{}",
            op.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = back.elapsed();
    eprintln!(
        "after 40 s away, {ready_then} of 20 Ready: the next Ready {:.1} s after the return, all 20 after {:.1} s",
        first_progress.as_secs_f64(),
        all.as_secs_f64()
    );
    assert!(
        first_progress < Duration::from_secs(10),
        "{first_progress:?}"
    );
    assert!(all < Duration::from_secs(10), "{all:?}");
    assert_eq!(bed.app_mesh_route_names().len(), 20, "one route per object");
}

async fn ready_count(bed: &Bed, names: &[String]) -> usize {
    let mut n = 0;
    for name in names {
        if let Some(r) = bed.api().get_opt(name).await.ok().flatten()
            && reason(&r) == Some("Synced")
        {
            n += 1;
        }
    }
    n
}
