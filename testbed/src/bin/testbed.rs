//! `testbed up`: a control plane and a seeded App Mesh emulator for manual work, kept running
//! until SIGTERM or Ctrl-C (`make testbed-up` / `make testbed-down` drive it).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use meshroute_testbed::{ControlPlane, emulator_settings, install_crds, seed, testbin_dir};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start kube-apiserver, etcd and appmesh-emulator, apply crds/, and wait for a signal.
    Up {
        /// Where to write `env` (shell exports) and `kubeconfig`.
        #[arg(long, default_value = ".testbed")]
        dir: PathBuf,
        /// Loopback port for the emulator (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        emulator_port: u16,
    },
}

/// Synchronous on purpose: `ControlPlane::start` runs its own small runtime.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Command::Up { dir, emulator_port } = Args::parse().command;
    let bin = testbin_dir()?;
    let plane = ControlPlane::start(&bin)?;
    let emulator = appmesh_emulator::spawn(emulator_settings(), emulator_port)?;
    seed(&emulator.emulator)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async { install_crds(&plane.client().await?).await })?;
    // The seeded gateway carries requests: echo backends for the examples' virtual services.
    let listeners = runtime.block_on(async {
        for service in meshroute_testbed::SERVICES {
            emulator
                .serve_echo(meshroute_testbed::MESH, service)
                .await?;
        }
        emulator
            .serve_gateway(meshroute_testbed::MESH, meshroute_testbed::GATEWAY)
            .await
    })?;
    let gateway = |protocol: &str| {
        listeners
            .iter()
            .find(|l| l.protocol == protocol)
            .map(|l| l.address.to_string())
            .unwrap_or_default()
    };

    std::fs::create_dir_all(&dir)?;
    let kubeconfig = std::fs::canonicalize(&dir)?.join("kubeconfig");
    std::fs::copy(&plane.kubeconfig, &kubeconfig)?;
    let env = format!(
        "export KUBECONFIG={kubeconfig}\nexport APPMESH_ENDPOINT={endpoint}\n\
         # The AWS CLI v2, boto3 and every AWS SDK read these: they talk to the emulator.\n\
         export AWS_ENDPOINT_URL_APP_MESH={endpoint}\nexport AWS_REGION=us-west-2\n\
         export AWS_DEFAULT_REGION=us-west-2\nexport AWS_ACCESS_KEY_ID=test\n\
         export AWS_SECRET_ACCESS_KEY=test\nexport PATH={bin}:$PATH\n\
         # The gateway's listeners (http, http2, grpc), routing to echo backends.\n\
         export GATEWAY_HTTP={http}\nexport GATEWAY_HTTP2={http2}\nexport GATEWAY_GRPC={grpc}\n",
        http = gateway("http"),
        http2 = gateway("http2"),
        grpc = gateway("grpc"),
        kubeconfig = kubeconfig.display(),
        endpoint = emulator.endpoint(),
        bin = bin.display()
    );
    std::fs::write(dir.join("env"), &env)?;
    println!(
        "test bed up in {:.1} s: kube-apiserver {}, appmesh-emulator {} (mesh {}, gateway {})\nlogs: {}\n{env}",
        plane.started_in.as_secs_f64(),
        plane.server,
        emulator.endpoint(),
        meshroute_testbed::MESH,
        meshroute_testbed::GATEWAY,
        plane.dir().display()
    );

    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate())?;
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            Ok::<_, std::io::Error>(())
        })?;
    let _ = std::fs::remove_file(dir.join("env"));
    drop(emulator);
    drop(plane);
    println!("test bed down");
    Ok(())
}
