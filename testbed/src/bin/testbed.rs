//! `testbed up`: a control plane and a seeded App Mesh emulator for manual work, kept running
//! until SIGTERM or Ctrl-C (`make testbed-up` / `make testbed-down` drive it). With
//! `--gateway-api` the same virtual gateway can also be served by Traefik, to cut over on.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use meshroute_testbed::gateway_api::{self, Backend};
use meshroute_testbed::{
    ControlPlane, Traefik, emulator_settings, install_crds, install_gateway_api, seed_on,
    testbin_dir,
};

/// The GatewayClass `--gateway-api` creates for Traefik.
const CLASS: &str = "traefik";
/// The Gateway `--gateway-api` creates: `namespace/name`.
const GATEWAY_NAMESPACE: &str = "infra";
const GATEWAY_NAME: &str = "shared";

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
        #[arg(long, env = "TESTBED_DIR", default_value = ".testbed")]
        dir: PathBuf,
        /// Loopback port for the emulator (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        emulator_port: u16,
        /// The virtual gateway's listener ports in App Mesh's spec (http, http2, grpc); with
        /// --gateway-api, Traefik's Gateway listens on them too (on 127.0.0.1).
        #[arg(
            long,
            env = "TESTBED_LISTENER_PORTS",
            value_delimiter = ',',
            default_value = "8080,8081,8082",
            num_args = 1
        )]
        listener_ports: Vec<u16>,
        /// Also install the Gateway API CRDs, start Traefik, and create GatewayClass `traefik`,
        /// Gateway `infra/shared` (a listener per virtual gateway listener port, admitting
        /// routes from every namespace) and Services for the echo backends in
        /// --backends-namespace.
        #[arg(long, env = "TESTBED_GATEWAY_API")]
        gateway_api: bool,
        /// Where the echo backends' Services go: the namespace the GatewayRoutes are applied
        /// in (a virtual service name without a namespace is a Service in the route's own).
        #[arg(long, default_value = "default")]
        backends_namespace: String,
    },
}

/// Synchronous on purpose: `ControlPlane::start` runs its own small runtime.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Command::Up {
        dir,
        emulator_port,
        listener_ports,
        gateway_api,
        backends_namespace,
    } = Args::parse().command;
    let ports: [u16; 3] = listener_ports.as_slice().try_into().map_err(|_| {
        format!("--listener-ports takes three ports (http, http2, grpc), not {listener_ports:?}")
    })?;
    let bin = testbin_dir()?;
    let plane = ControlPlane::start(&bin)?;
    let emulator = appmesh_emulator::spawn(emulator_settings(), emulator_port)?;
    seed_on(&emulator.emulator, ports)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async { install_crds(&plane.client().await?).await })?;
    // The seeded gateway carries requests: echo backends for the examples' virtual services,
    // on an address Traefik reaches too when it serves the gateway.
    let echo_ip = if gateway_api {
        meshroute_testbed::host_address()?
    } else {
        emulator.addr.ip()
    };
    let (echoes, listeners) = runtime.block_on(async {
        let mut echoes = Vec::new();
        for service in meshroute_testbed::SERVICES {
            let address = emulator
                .serve_echo_on(meshroute_testbed::MESH, service, echo_ip)
                .await?;
            echoes.push((*service, address));
        }
        let listeners = emulator
            .serve_gateway(meshroute_testbed::MESH, meshroute_testbed::GATEWAY)
            .await?;
        Ok::<_, String>((echoes, listeners))
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
    let [metrics] = meshroute_testbed::free_ports::<1>()?;
    let mut env = format!(
        "export KUBECONFIG={kubeconfig}\nexport APPMESH_ENDPOINT={endpoint}\n\
         # The AWS CLI v2, boto3 and every AWS SDK read these: they talk to the emulator.\n\
         export AWS_ENDPOINT_URL_APP_MESH={endpoint}\nexport AWS_REGION=us-west-2\n\
         export AWS_DEFAULT_REGION=us-west-2\nexport AWS_ACCESS_KEY_ID=test\n\
         export AWS_SECRET_ACCESS_KEY=test\nexport PATH={bin}:$PATH\n\
         # `meshroute run` reads these: the emulator, one replica, a free metrics port.\n\
         export MESHROUTE_APPMESH_ENDPOINT={endpoint}\nexport MESHROUTE_LEADER_ELECTION=false\n\
         export MESHROUTE_HTTP_ADDR=127.0.0.1:{metrics}\n\
         # The gateway's listeners (http, http2, grpc), routing to echo backends.\n\
         export GATEWAY_HTTP={http}\nexport GATEWAY_HTTP2={http2}\nexport GATEWAY_GRPC={grpc}\n",
        http = gateway("http"),
        http2 = gateway("http2"),
        grpc = gateway("grpc"),
        kubeconfig = kubeconfig.display(),
        endpoint = emulator.endpoint(),
        bin = bin.display()
    );
    let mut made = String::new();
    let traefik = if gateway_api {
        install_gateway_api(&plane.kubeconfig)?;
        let names = ["http", "http2", "grpc"];
        let listeners: Vec<(&str, u16)> = names.into_iter().zip(ports).collect();
        let mut objects =
            gateway_api::gateway_objects(CLASS, GATEWAY_NAMESPACE, GATEWAY_NAME, &listeners);
        let backends: Vec<Backend> = echoes
            .iter()
            .map(|(service, address)| Backend {
                namespace: backends_namespace.clone(),
                name: service.trim_end_matches(".svc.cluster.local").to_string(),
                address: *address,
                target_port: None,
                h2c: service.starts_with("grpc-"),
            })
            .collect();
        objects.extend(gateway_api::backend_objects(&backends));
        meshroute_testbed::kubectl(
            &plane.kubeconfig,
            &["apply", "-f", "-"],
            Some(gateway_api::list(objects).as_bytes()),
        )?;
        let traefik = Traefik::start(&plane.kubeconfig, &ports, plane.dir())?;
        env.push_str(&format!(
            "# Traefik serving Gateway {GATEWAY_NAMESPACE}/{GATEWAY_NAME} (http, http2, grpc).\n\
             export GATEWAY_API_HTTP=127.0.0.1:{}\nexport GATEWAY_API_HTTP2=127.0.0.1:{}\n\
             export GATEWAY_API_GRPC=127.0.0.1:{}\n",
            ports[0], ports[1], ports[2]
        ));
        made = format!(
            "Gateway API: CRDs (standard channel); GatewayClass {CLASS} (Traefik, log {log}); \
             Gateway {GATEWAY_NAMESPACE}/{GATEWAY_NAME} with listeners {listeners:?} on 127.0.0.1, \
             routes from every namespace; Services {services} in {backends_namespace} to the \
             echo backends on {echo_ip}\n",
            log = traefik.log.display(),
            services = backends
                .iter()
                .map(|b| b.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        );
        Some(traefik)
    } else {
        None
    };
    std::fs::write(dir.join("env"), &env)?;
    println!(
        "test bed up in {:.1} s: kube-apiserver {}, appmesh-emulator {} (mesh {}, gateway {})\n{made}logs: {}\n{env}",
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
    drop(traefik);
    drop(emulator);
    drop(plane);
    println!("test bed down");
    Ok(())
}
