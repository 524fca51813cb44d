//! `make bench`: how fast and how lean meshroute converges.
//!
//! For each N it runs the real control plane, a fresh App Mesh emulator and the release-built
//! operator as its own process; creates N GatewayRoutes at once and measures the create, update and
//! delete waves (time to all Ready, p50/p99 apply -> Ready, App Mesh calls per object), a steady
//! state (calls and watch events), and the operator's peak RSS and CPU. The floor to compare with
//! is the same N creates sent straight to an emulator by the SDK at the same concurrency. Waves with
//! 20 ms and 100 ms of injected App Mesh latency and one under a client-side rate limit follow.
//! Writes docs/benchmarks.json and docs/benchmarks.md.

mod app_mesh;
mod cutover;
mod drift;
mod floor;
mod gateway_api;
mod report;
mod run;
mod verify;

use std::path::PathBuf;

use clap::Parser;
use meshroute_testbed::ControlPlane;
use serde_json::{Value, json};

use app_mesh::{create_wave, delete_wave, steady, update_wave};
use drift::drift_scenario;
use floor::{app_mesh_floor, kubernetes_floor};
use gateway_api::gateway_api_sizes;
use report::markdown;
use run::{counters, round, start_run, usage};

#[derive(Parser)]
struct Args {
    /// Object counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,5000")]
    n: Vec<usize>,
    /// Reconciles (operator) and in-flight creates (SDK floor) at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds of steady state measured after each create wave.
    #[arg(long, default_value_t = 60)]
    steady_seconds: u64,
    /// N of the latency and rate-limit waves.
    #[arg(long, default_value_t = 1000)]
    wave_n: usize,
    /// The client-side rate limit (calls per second) of the rate-limit wave.
    #[arg(long, default_value_t = 50.0)]
    rate_limit: f64,
    /// Object counts of the drift-pass scenario (two gateways, default App Mesh rate limit).
    #[arg(long, value_delimiter = ',', default_value = "5000,10000")]
    drift_n: Vec<usize>,
    /// The drift period (seconds) of that scenario.
    #[arg(long, default_value_t = 20)]
    drift_period: u64,
    /// The operator binary (release build).
    #[arg(long, default_value = "target/release/meshroute")]
    operator: PathBuf,
    /// Where the JSON and markdown results go.
    #[arg(long, default_value = "docs")]
    out: PathBuf,
    /// Object counts of the Gateway API backend scenario (Traefik as the implementation).
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    gateway_api_n: Vec<usize>,
    /// How many virtual gateways (each served by its own Traefik Gateway) the Gateway API
    /// scenario spreads its N routes over; each N is measured at each.
    #[arg(long, value_delimiter = ',', default_value = "1,10")]
    gateway_api_gateways: Vec<usize>,
    /// Measure only the Gateway API backend scenario and replace its part of the benchmarks.json
    /// in --out (the rest is kept).
    #[arg(long)]
    only_gateway_api: bool,
    /// N of the cut-over scenario: a whole gateway moved from App Mesh (at `--appmesh-rps 10`)
    /// to both, to Gateway API alone and back, with a sampling load through the gateways.
    #[arg(long, default_value_t = 10000)]
    cutover_n: usize,
    /// Measure only the cut-over scenario and replace its part of the benchmarks.json in --out.
    #[arg(long)]
    only_cutover: bool,
    /// Route counts of the `meshroute verify` scenario (offline, one virtual gateway).
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    verify_n: Vec<usize>,
    /// Measure only the verify scenario (no control plane) and replace its part of the
    /// benchmarks.json in --out.
    #[arg(long)]
    only_verify: bool,
    /// Only re-render benchmarks.md from the benchmarks.json in --out; measure nothing.
    #[arg(long)]
    render: bool,
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem_kib: f64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    format!(
        "{cores} cores ({cpu}), {:.0} GiB memory",
        mem_kib / 1024.0 / 1024.0
    )
}

/// The control plane, with meshroute's CRDs.
async fn start_plane(args: &Args) -> ControlPlane {
    assert!(
        args.operator.exists(),
        "{} is missing: build it with `make release` (make bench does)",
        args.operator.display()
    );
    let bin = meshroute_testbed::testbin_dir().unwrap_or_else(|e| panic!("{e}"));
    // ControlPlane::start runs its own runtime, so it is started on a plain thread.
    let plane =
        std::thread::spawn(move || ControlPlane::start(&bin).expect("start the control plane"))
            .join()
            .unwrap();
    meshroute_testbed::install_crds(&plane.client().await.unwrap())
        .await
        .unwrap();
    eprintln!(
        "bench: control plane up in {:.1} s on {}",
        plane.started_in.as_secs_f64(),
        machine()
    );
    plane
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if args.only_verify {
        let path = args.out.join("benchmarks.json");
        let json = std::fs::read_to_string(&path).expect("read benchmarks.json");
        let mut result: Value = serde_json::from_str(&json).expect("parse benchmarks.json");
        result["verify"] = verify::verify_sizes(&args.operator, &args.verify_n);
        std::fs::write(&path, serde_json::to_string_pretty(&result).unwrap() + "\n").unwrap();
        std::fs::write(args.out.join("benchmarks.md"), markdown(&result)).unwrap();
        return;
    }
    if args.only_gateway_api || args.only_cutover {
        let path = args.out.join("benchmarks.json");
        let json = std::fs::read_to_string(&path).expect("read benchmarks.json");
        let mut result: Value = serde_json::from_str(&json).expect("parse benchmarks.json");
        let plane = start_plane(&args).await;
        if args.only_gateway_api {
            result["gateway_api"] = gateway_api_sizes(&plane, &args).await;
        }
        if args.only_cutover {
            eprintln!(
                "bench: the cut-over of a whole gateway at N = {}",
                args.cutover_n
            );
            result["cutover"] = cutover::cutover_scenario(&plane, &args, args.cutover_n).await;
        }
        std::fs::write(&path, serde_json::to_string_pretty(&result).unwrap() + "\n").unwrap();
        std::fs::write(args.out.join("benchmarks.md"), markdown(&result)).unwrap();
        return;
    }
    if args.render {
        let json = std::fs::read_to_string(args.out.join("benchmarks.json"))
            .expect("read benchmarks.json");
        let result: Value = serde_json::from_str(&json).expect("parse benchmarks.json");
        std::fs::write(args.out.join("benchmarks.md"), markdown(&result)).unwrap();
        return;
    }
    let plane = start_plane(&args).await;
    // A first wave pays for the apiserver's and the binaries' cold caches; keep it out of the numbers.
    let warm_up = start_run(&plane, &args, &[], 0).await;
    create_wave(&warm_up, 50).await;
    delete_wave(&warm_up, 50).await;
    drop(warm_up);

    let mut sizes = Vec::new();
    for &n in &args.n {
        eprintln!("bench: N = {n}");
        let run = start_run(&plane, &args, &[], 0).await;
        let create = create_wave(&run, n).await;
        eprintln!("  create: {create}");
        let steady_state = steady(&run, args.steady_seconds).await;
        eprintln!("  steady: {steady_state}");
        let update = update_wave(&run, n).await;
        eprintln!("  update: {update}");
        let delete = delete_wave(&run, n).await;
        eprintln!("  delete: {delete}");
        let operator = usage(run.operator.pid());
        drop(run);
        let floor_s = app_mesh_floor(n, args.concurrency, 0).await;
        let ratio = create["seconds_to_all_ready"].as_f64().unwrap() / floor_s;
        let kube_floor = kubernetes_floor(&plane, n, args.concurrency).await;
        let kube_ratio = create["seconds_to_all_ready"].as_f64().unwrap() / kube_floor;
        eprintln!(
            "  operator: {operator}; SDK floor {floor_s:.3} s (ratio {ratio:.1}); Kubernetes floor {kube_floor:.3} s (ratio {kube_ratio:.2})"
        );
        sizes.push(json!({ "n": n, "create": create, "steady_state": steady_state, "update": update,
            "delete": delete, "operator": operator, "sdk_floor_seconds": round(floor_s), "ratio_to_floor": round(ratio),
            "kubernetes_floor_seconds": round(kube_floor), "ratio_to_kubernetes_floor": round(kube_ratio) }));
    }

    let mut waves = Vec::new();
    for latency in [20, 100] {
        let n = args.wave_n;
        eprintln!("bench: N = {n} with {latency} ms App Mesh latency");
        let run = start_run(&plane, &args, &[], latency).await;
        let create = create_wave(&run, n).await;
        let floor_s = app_mesh_floor(n, args.concurrency, latency).await;
        let ratio = create["seconds_to_all_ready"].as_f64().unwrap() / floor_s;
        eprintln!("  create: {create}; floor {floor_s:.3} s; ratio {ratio:.2}");
        waves.push(json!({ "n": n, "latency_ms": latency, "create": create, "sdk_floor_seconds": round(floor_s),
            "ratio_to_floor": round(ratio), "operator": usage(run.operator.pid()) }));
    }
    let rps = args.rate_limit.to_string();
    let burst = (args.rate_limit as u64).to_string();
    let n = args.wave_n;
    eprintln!("bench: N = {n} under --appmesh-rps {rps}");
    let run = start_run(
        &plane,
        &args,
        &["--appmesh-rps", &rps, "--appmesh-burst", &burst],
        0,
    )
    .await;
    let before = counters(&run)["total"].as_u64().unwrap();
    let create = create_wave(&run, n).await;
    let calls = counters(&run)["total"].as_u64().unwrap() - before;
    let seconds = create["seconds_to_all_ready"].as_f64().unwrap();
    let achieved = calls as f64 / seconds;
    eprintln!(
        "  {calls} calls in {seconds:.1} s: {achieved:.1} calls/s against a limit of {rps}/s (burst {burst})"
    );
    let limited = json!({ "n": n, "limit_per_second": args.rate_limit, "burst": args.rate_limit, "create": create,
        "appmesh_calls": calls, "achieved_calls_per_second": round(achieved) });

    let mut drift = Vec::new();
    for &n in &args.drift_n {
        eprintln!("bench: drift passes over N = {n} on 2 gateways");
        let d = drift_scenario(&plane, &args, n).await;
        eprintln!("  {d}");
        drift.push(d);
    }

    let gateway_api = gateway_api_sizes(&plane, &args).await;
    eprintln!(
        "bench: the cut-over of a whole gateway at N = {}",
        args.cutover_n
    );
    let cutover = cutover::cutover_scenario(&plane, &args, args.cutover_n).await;
    let verify = verify::verify_sizes(&args.operator, &args.verify_n);

    let result = json!({
        "verify": verify,
        "gateway_api": gateway_api,
        "cutover": cutover,
        "machine": machine(),
        "command": format!("make bench (cargo run --release -p meshroute-bench -- --n {} --concurrency {})",
            args.n.iter().map(usize::to_string).collect::<Vec<_>>().join(","), args.concurrency),
        "concurrency": args.concurrency,
        "sizes": sizes, "latency_waves": waves, "rate_limited": limited, "drift": drift,
    });
    std::fs::create_dir_all(&args.out).unwrap();
    std::fs::write(
        args.out.join("benchmarks.json"),
        serde_json::to_string_pretty(&result).unwrap() + "\n",
    )
    .unwrap();
    std::fs::write(args.out.join("benchmarks.md"), markdown(&result)).unwrap();
    eprintln!(
        "bench: wrote {}/benchmarks.json and benchmarks.md",
        args.out.display()
    );
}
