//! meshroute's test bed: a real kube-apiserver and etcd built from source (see `hack/testbin.sh`),
//! started on free loopback ports, for integration tests, benchmarks and `make testbed-up`.
//!
//! One control plane per test binary ([`shared`]); tests isolate themselves by namespace
//! ([`namespace`]). Processes die with the test binary even when it panics or is killed.

mod control_plane;
pub mod gateway_api;
mod operator;
mod process;
mod traefik;
pub mod traffic;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

pub use control_plane::{ADMIN_USER, ControlPlane, free_ports};
pub use operator::Operator;
pub use process::{kill_group, spawn_owned};
pub use traefik::{TRAEFIK_CONTROLLER, Traefik, host_address};

/// What can go wrong while bringing up the test bed; each message says what to run or read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("a test-bed binary is not built: {detail}; then re-run")]
    MissingBinaries { detail: String },
    #[error("could not start {name}: {source}")]
    Spawn {
        name: &'static str,
        source: std::io::Error,
    },
    #[error("{name} exited during start-up with {status}; see {log}", log = .log.display())]
    Exited {
        name: &'static str,
        status: String,
        log: PathBuf,
    },
    #[error("kube-apiserver was not ready after {after:?} (last: {last}); see {log}", log = .log.display())]
    NotReady {
        after: Duration,
        last: String,
        log: PathBuf,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    #[error("kube client: {0}")]
    Kube(#[from] kube::Error),
    #[error("kubectl {args} failed: {output}")]
    Kubectl { args: String, output: String },
}

/// Runs the bed's kubectl against the cluster of `kubeconfig`, `stdin` piped in; its stdout.
pub fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&[u8]>) -> Result<String, Error> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(testbin_tool("kubectl")?)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Spawn {
            name: "kubectl",
            source,
        })?;
    let mut input = child.stdin.take().expect("piped");
    input.write_all(stdin.unwrap_or_default())?;
    drop(input);
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(Error::Kubectl {
            args: args.join(" "),
            output: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Installs the Gateway API CRDs (standard channel, fetched by hack/testbin.sh) into the
/// cluster of `kubeconfig` and waits until the apiserver serves them.
pub fn install_gateway_api(kubeconfig: &Path) -> Result<(), Error> {
    let dir = testbin_tool("gateway-api")?;
    let dir = dir.to_string_lossy();
    kubectl(kubeconfig, &["apply", "--server-side", "-f", &dir], None)?;
    let established = ["--for", "condition=Established", "--timeout", "60s"];
    kubectl(
        kubeconfig,
        &[&["wait"][..], &established, &["-f", &dir]].concat(),
        None,
    )?;
    Ok(())
}

/// The repository root (the workspace this crate belongs to).
pub fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// What the control plane needs: the test bed itself and `make demo` build only these.
pub const CONTROL_PLANE_TOOLS: [&str; 3] = ["etcd", "kube-apiserver", "kubectl"];

/// The directory with the control plane's binaries ([`CONTROL_PLANE_TOOLS`]):
/// `$MESHROUTE_TESTBIN_DIR` if set, else what `hack/testbin.sh --check` reports. Builds nothing:
/// a missing binary is an error that names the set-up command.
pub fn testbin_dir() -> Result<PathBuf, Error> {
    let dir = match std::env::var_os("MESHROUTE_TESTBIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let out = Command::new("bash")
                .arg(repo_root().join("hack/testbin.sh"))
                .arg("--check")
                .args(CONTROL_PLANE_TOOLS)
                .output()
                .map_err(|source| Error::Spawn {
                    name: "hack/testbin.sh",
                    source,
                })?;
            if !out.status.success() {
                return Err(Error::MissingBinaries {
                    detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
                });
            }
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        }
    };
    for tool in CONTROL_PLANE_TOOLS {
        testbin_tool_in(&dir, tool)?;
    }
    Ok(dir)
}

/// The test-bed tool `name` (kubectl, helm, gitops-check, gateway-api for the CRDs' folder),
/// or an error naming the command that builds it.
pub fn testbin_tool(name: &str) -> Result<PathBuf, Error> {
    testbin_tool_in(&testbin_dir()?, name)
}

fn testbin_tool_in(dir: &Path, name: &str) -> Result<PathBuf, Error> {
    let found = if name == "gateway-api" {
        std::fs::read_dir(dir)
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("gateway-api-"))
                    && p.join(".complete").is_file()
            })
    } else {
        Some(dir.join(name)).filter(|p| p.is_file())
    };
    found.ok_or_else(|| Error::MissingBinaries {
        detail: format!(
            "{name} is not in {}; build it with 'hack/testbin.sh {name}' (or 'make testbin' for every tool)",
            dir.display()
        ),
    })
}

/// The control plane of this test binary, started on first use and killed when the binary exits.
/// Start-up time is printed once, so `cargo test -- --nocapture` shows it.
pub fn shared() -> &'static ControlPlane {
    static PLANE: OnceLock<ControlPlane> = OnceLock::new();
    PLANE.get_or_init(|| {
        // Started on a plain thread: a test's async runtime must not be blocked from within.
        std::thread::spawn(|| {
            let bin = testbin_dir().unwrap_or_else(|e| panic!("test bed: {e}"));
            let plane = ControlPlane::start(&bin).unwrap_or_else(|e| panic!("test bed: {e}"));
            eprintln!(
                "test bed: kube-apiserver {} ready in {:.1} s (data and logs in {})",
                plane.server,
                plane.started_in.as_secs_f64(),
                plane.dir().display()
            );
            plane
        })
        .join()
        .unwrap_or_else(|_| panic!("test bed: the control plane failed to start (see above)"))
    })
}

/// The mesh every example and the demo use.
pub const MESH: &str = "apps";
/// The virtual gateway every example and the demo use (the API reference's sample names it).
pub const GATEWAY: &str = "myVirtualGateway";
/// The virtual services the examples route to.
pub const SERVICES: &[&str] = &[
    "myservicea.svc.cluster.local",
    "myserviceb.svc.cluster.local",
    "grpc-echo.svc.cluster.local",
];

/// The AWS environment of a meshroute process talking to the emulator: a region, fake
/// credentials, and no instance metadata or shared files to look for.
pub const AWS_TEST_ENV: [(&str, &str); 6] = [
    ("AWS_REGION", "us-west-2"),
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_CONFIG_FILE", "/dev/null"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
];

/// Emulator settings for the bed: App Mesh's defaults, except room for more routes on one
/// gateway, because every test of a binary shares the seeded gateway.
pub fn emulator_settings() -> appmesh_emulator::Settings {
    appmesh_emulator::Settings {
        max_gateway_routes_per_gateway: 10_000,
        ..Default::default()
    }
}

/// The listener ports of [`GATEWAY`] in App Mesh's spec (http, http2, grpc).
pub const LISTENER_PORTS: [u16; 3] = [8080, 8081, 8082];

/// Creates [`MESH`], [`GATEWAY`] (listeners for http, http2 and grpc on [`LISTENER_PORTS`]) and
/// [`SERVICES`].
pub fn seed(emulator: &appmesh_emulator::Emulator) -> Result<(), appmesh_emulator::ApiError> {
    seed_on(emulator, LISTENER_PORTS)
}

/// [`seed`], with the gateway's listeners (http, http2, grpc) on `ports`.
pub fn seed_on(
    emulator: &appmesh_emulator::Emulator,
    ports: [u16; 3],
) -> Result<(), appmesh_emulator::ApiError> {
    use serde_json::json;
    emulator.invoke("CreateMesh", &json!({ "meshName": MESH }))?;
    let listeners: Vec<serde_json::Value> = ports
        .iter()
        .zip(["http", "http2", "grpc"])
        .map(|(port, protocol)| json!({ "portMapping": { "port": port, "protocol": protocol } }))
        .collect();
    emulator.invoke(
        "CreateVirtualGateway",
        &json!({
            "meshName": MESH, "virtualGatewayName": GATEWAY,
            "spec": { "listeners": listeners }
        }),
    )?;
    for service in SERVICES {
        emulator.invoke(
            "CreateVirtualService",
            &json!({ "meshName": MESH, "virtualServiceName": service, "spec": {} }),
        )?;
    }
    Ok(())
}

/// The seeded App Mesh emulator of this test binary, on a free loopback port.
pub fn shared_emulator() -> &'static appmesh_emulator::Handle {
    static EMULATOR: OnceLock<appmesh_emulator::Handle> = OnceLock::new();
    EMULATOR.get_or_init(|| {
        let handle = appmesh_emulator::spawn(emulator_settings(), 0)
            .unwrap_or_else(|e| panic!("test bed: start appmesh-emulator: {e}"));
        seed(&handle.emulator).unwrap_or_else(|e| panic!("test bed: seed appmesh-emulator: {e}"));
        handle
    })
}

/// Server-side applies every CRD under `crds/` and waits until each is Established, so tests
/// and `testbed up` install exactly what is checked in.
pub async fn install_crds(client: &kube::Client) -> Result<(), Error> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Patch, PatchParams};
    use kube::runtime::{conditions, wait::await_condition};
    let api: kube::Api<CustomResourceDefinition> = kube::Api::all(client.clone());
    let mut names = Vec::new();
    for entry in std::fs::read_dir(repo_root().join("crds"))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let crd: CustomResourceDefinition =
            serde_saphyr::from_str(&std::fs::read_to_string(&path)?).map_err(|e| {
                Error::Io(std::io::Error::other(format!("{}: {e}", path.display())))
            })?;
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(
            &name,
            &PatchParams::apply("meshroute-testbed").force(),
            &Patch::Apply(&crd),
        )
        .await?;
        names.push(name);
    }
    for name in names {
        tokio::time::timeout(
            Duration::from_secs(30),
            await_condition(api.clone(), &name, conditions::is_crd_established()),
        )
        .await
        .map_err(|_| {
            Error::Io(std::io::Error::other(format!(
                "CRD {name} not Established within 30 s"
            )))
        })?
        .map_err(|e| Error::Io(std::io::Error::other(e)))?;
    }
    Ok(())
}

/// Creates a namespace with a unique name starting with `prefix` and returns its name.
pub async fn namespace(client: &kube::Client, prefix: &str) -> Result<String, Error> {
    use k8s_openapi::api::core::v1::Namespace;
    let api: kube::Api<Namespace> = kube::Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": { "generateName": format!("{prefix}-") }
    }))
    .map_err(|e| Error::Io(std::io::Error::other(e)))?;
    let created = api.create(&Default::default(), &ns).await?;
    Ok(created.metadata.name.unwrap_or_default())
}
