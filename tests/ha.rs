//! High availability: two replicas elect one leader on a Lease; only it reconciles, and the
//! standby takes over within the lease duration when the leader dies.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use support::{Bed, Operator, http2_spec};

const LEASE_SECONDS: u64 = 6;

#[tokio::test]
async fn the_standby_takes_over_when_the_leader_dies() {
    let mut bed = Bed::new("ha").await;
    let lease_flags = |identity: &'static str, ns: &str| {
        vec![
            "--leader-election".to_string(),
            "true".into(),
            "--lease-namespace".into(),
            ns.to_string(),
            "--lease-name".into(),
            "meshroute-ha".into(),
            "--lease-duration".into(),
            LEASE_SECONDS.to_string(),
            "--lease-identity".into(),
            identity.into(),
            "--resync-period".into(),
            "0".into(),
        ]
    };
    let ns = bed.ns.clone();
    let a_flags = lease_flags("replica-a", &ns);
    let mut a = bed.operator(&a_flags.iter().map(String::as_str).collect::<Vec<_>>());
    let b_flags = lease_flags("replica-b", &ns);
    let mut b = bed.operator(&b_flags.iter().map(String::as_str).collect::<Vec<_>>());

    let leases: kube::Api<Lease> = kube::Api::namespaced(bed.client.clone(), &ns);
    let deadline = Instant::now() + Duration::from_secs(30);
    let holder = loop {
        let held = leases
            .get_opt("meshroute-ha")
            .await
            .unwrap()
            .and_then(|l| l.spec?.holder_identity);
        if let Some(h) = held {
            break h;
        }
        assert!(
            Instant::now() < deadline,
            "nobody took the lease:\n{}",
            a.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (leader, standby) = if holder == "replica-a" {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };

    bed.create(&bed.route(
        "before",
        http2_spec("myservicea.svc.cluster.local", "/before"),
    ))
    .await;
    bed.wait_ready("before", leader).await;
    let (code, body) = standby.get("/readyz").await;
    assert_eq!((code, body.trim()), (200, "standby: another replica leads"));
    let (code, body) = leader.get("/readyz").await;
    assert_eq!((code, body.trim()), (200, "leader: watch synced"));
    let (_, metrics) = leader.get("/metrics").await;
    assert!(
        metrics.contains(
            "meshroute_appmesh_calls_total{operation=\"CreateGatewayRoute\",outcome=\"ok\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("\nmeshroute_leader 1"), "{metrics}");
    let (_, standby_metrics) = standby.get("/metrics").await;
    assert!(
        standby_metrics.contains("\nmeshroute_leader 0"),
        "{standby_metrics}"
    );
    let calls: f64 = standby_metrics
        .lines()
        .filter(|l| l.starts_with("meshroute_appmesh_calls_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(
        calls, 0.0,
        "the standby made App Mesh calls:\n{standby_metrics}"
    );

    leader.kill();
    let killed = Instant::now();
    bed.create(&bed.route(
        "after",
        http2_spec("myservicea.svc.cluster.local", "/after"),
    ))
    .await;
    bed.wait_ready("after", standby).await;
    let took = killed.elapsed();
    eprintln!(
        "standby reconciled a new object {:.1} s after the leader died",
        took.as_secs_f64()
    );
    assert!(
        took < Duration::from_secs(LEASE_SECONDS + 5),
        "take-over took {took:?}, lease is {LEASE_SECONDS} s"
    );
    let (code, body) = standby.get("/readyz").await;
    assert_eq!((code, body.trim()), (200, "leader: watch synced"));
}

#[tokio::test]
async fn sigterm_finishes_cleanly_and_hands_the_lease_back() {
    let mut bed = Bed::new("sigterm").await;
    let ns = bed.ns.clone();
    let mut op = bed.operator(&[
        "--leader-election",
        "true",
        "--lease-namespace",
        &ns,
        "--lease-name",
        "meshroute-term",
        "--lease-identity",
        "only",
        "--lease-duration",
        "30",
        "--resync-period",
        "0",
    ]);
    bed.create(&bed.route("served", http2_spec("myservicea.svc.cluster.local", "/")))
        .await;
    bed.wait_ready("served", &op).await;

    let stopped = Instant::now();
    let status = op
        .terminate(Duration::from_secs(20))
        .await
        .expect("exits on SIGTERM");
    assert!(status.success(), "exit status {status}:\n{}", op.log_tail());
    assert!(
        stopped.elapsed() < Duration::from_secs(10),
        "took {:?}",
        stopped.elapsed()
    );
    assert!(
        op.log_tail().contains("released the leader lease"),
        "{}",
        op.log_tail()
    );
    // Handed back, not left to expire: a successor need not wait the 30 s lease out.
    let leases: kube::Api<Lease> = kube::Api::namespaced(bed.client.clone(), &ns);
    let holder = leases
        .get("meshroute-term")
        .await
        .unwrap()
        .spec
        .and_then(|s| s.holder_identity);
    assert_ne!(
        holder.as_deref(),
        Some("only"),
        "the lease still names the stopped replica"
    );
}

#[tokio::test]
async fn a_replica_that_loses_the_lease_writes_nothing_more_to_app_mesh() {
    let mut bed = Bed::new("lease-lost").await;
    // The operator's own rate limit holds reconciles at its door, so that when the Lease is
    // taken, App Mesh writes are still queued up in this replica.
    let mut op = leader_mid_rollout(&mut bed, "meshroute-lost", "2", "1").await;

    // Another replica takes the Lease (as after a network partition of this one).
    take_lease(&bed, "meshroute-lost", "thief").await;
    let stolen = Instant::now();
    // The moment the replica knows, it says so; from then on nothing may reach App Mesh.
    let knows = loop {
        if op.log_tail().contains("lost the leader Lease") {
            break Instant::now();
        }
        assert!(
            stolen.elapsed() < Duration::from_secs(20),
            "the replica never noticed:\n{}",
            op.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let routes_then = bed.app_mesh_route_names().len();
    assert!(
        routes_then < 40,
        "all routes were made before the loss; nothing tested"
    );
    let exited = op.terminate(Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!(
        "noticed {:.1} s after the Lease was taken; {routes_then} of 40 routes existed",
        (knows - stolen).as_secs_f64()
    );
    assert_eq!(
        bed.app_mesh_route_names().len(),
        routes_then,
        "App Mesh writes after the loss:\n{}",
        op.log_tail()
    );
    assert!(
        exited.is_some(),
        "the replica did not stop:\n{}",
        op.log_tail()
    );
}

/// A leader frozen (SIGSTOP) longer than its lease wakes to find another holder: by its own
/// clock its lease ran out, so it sends nothing to App Mesh and writes no status before it exits.
#[tokio::test]
async fn a_leader_paused_past_its_lease_writes_nothing_when_it_wakes() {
    let mut bed = Bed::new("paused").await;
    // When the leader freezes, creates are in flight and more wait at its rate limiter, whose
    // tokens refill during the pause.
    let mut op = leader_mid_rollout(&mut bed, "meshroute-paused", "4", "4").await;
    let pid = i32::try_from(op.pid()).unwrap();
    // SAFETY: signals to a child process this test started.
    unsafe { libc::kill(pid, libc::SIGSTOP) };

    // Past the lease duration, a standby takes the Lease, as it would from a dead leader. This
    // stand-in writes nothing to App Mesh, so every write from here on is the old leader's.
    tokio::time::sleep(Duration::from_secs(5)).await;
    take_lease(&bed, "meshroute-paused", "standby").await;
    // Requests that left before the freeze have landed by now (App Mesh answers in 0.5 s).
    let routes = bed.app_mesh_route_names();
    let statuses = |list: Vec<meshroute::api::GatewayRoute>| {
        list.into_iter()
            .map(|r| (r.metadata.name, serde_json::to_value(r.status).unwrap()))
            .collect::<Vec<_>>()
    };
    let before = statuses(bed.api().list(&Default::default()).await.unwrap().items);
    assert!(
        routes.len() < 40,
        "every route existed before the pause; nothing tested"
    );

    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let exited = op.exit_within(Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        bed.app_mesh_route_names(),
        routes,
        "App Mesh writes after the paused leader woke:\n{}",
        op.log_tail()
    );
    let after = statuses(bed.api().list(&Default::default()).await.unwrap().items);
    assert!(
        before == after,
        "status writes after the paused leader woke:\n{}",
        op.log_tail()
    );
    assert!(
        exited.is_some(),
        "the replica did not stop:\n{}",
        op.log_tail()
    );
}

/// A leader (lease `lease`, 4 s) rolling out 40 routes against an App Mesh that answers each
/// call in 0.5 s, at `rps` calls a second (`burst`): returned once 3 routes exist.
async fn leader_mid_rollout(bed: &mut Bed, lease: &str, rps: &str, burst: &str) -> Operator {
    bed.emulator
        .emulator
        .add_fault(serde_json::from_value(serde_json::json!({ "respondAfterMs": 500 })).unwrap())
        .unwrap();
    let ns = bed.ns.clone();
    let op = bed.operator(&[
        "--leader-election",
        "true",
        "--lease-namespace",
        &ns,
        "--lease-name",
        lease,
        "--lease-identity",
        "old-leader",
        "--lease-duration",
        "4",
        "--resync-period",
        "0",
        "--appmesh-rps",
        rps,
        "--appmesh-burst",
        burst,
        "--concurrency",
        "8",
    ]);
    for i in 0..40 {
        bed.create(&bed.route(
            &format!("r{i}"),
            http2_spec("myservicea.svc.cluster.local", &format!("/r{i}")),
        ))
        .await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while bed.app_mesh_route_names().len() < 3 {
        assert!(Instant::now() < deadline, "no creates:\n{}", op.log_tail());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    op
}

/// Another replica, `holder`, takes the Lease for an hour.
async fn take_lease(bed: &Bed, lease: &str, holder: &str) {
    let now = serde_json::to_value(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
        k8s_openapi::jiff::Timestamp::now(),
    ))
    .unwrap();
    let leases: kube::Api<Lease> = kube::Api::namespaced(bed.client.clone(), &bed.ns);
    leases
        .patch(
            lease,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({ "spec": {
                "holderIdentity": holder, "acquireTime": now, "renewTime": now,
                "leaseDurationSeconds": 3600 } })),
        )
        .await
        .unwrap();
}
