//! `meshroute run`: the operator's flags and its wiring (App Mesh client, controller, HTTP
//! endpoints, leader election, signals), in the library so tests can start it in-process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::sync::watch;

use crate::appmesh::{AppMesh, AppMeshArgs};
use crate::flags;
use crate::gatewayapi;
use crate::http::{Health, Role};
use crate::leader;
use crate::migrate::export::TargetArg;
use crate::reconcile::{self, Context};
use crate::telemetry::{LogFormat, Metrics};

/// `meshroute run`: every flag, each also read from its environment variable.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Identifies this cluster in the ownership tags of every App Mesh route it creates; give
    /// each cluster that shares an AWS account its own.
    #[arg(long, env = "MESHROUTE_CLUSTER_ID", default_value = "default")]
    pub cluster_id: String,
    #[command(flatten)]
    pub appmesh: AppMeshArgs,
    /// Refuse routes (NotPermitted) on every virtual gateway that no VirtualGatewayPolicy
    /// governs. Off by default: without a policy any namespace may attach routes, as before
    /// policies existed.
    #[arg(long, env = "MESHROUTE_REQUIRE_POLICY")]
    pub require_policy: bool,
    /// Which backend serves a virtual gateway's routes, per gateway (repeat the flag, or
    /// separate rules with `,`): `MESH/VIRTUAL_GATEWAY=BACKEND`, VIRTUAL_GATEWAY `*` for every
    /// gateway of the mesh, BACKEND `app-mesh` (the default for gateways no rule names),
    /// `gateway-api:NAMESPACE/GATEWAY[/LISTENER]` (an HTTPRoute or GRPCRoute per GatewayRoute,
    /// attached to that Gateway; the App Mesh route goes) or `both:NAMESPACE/GATEWAY[/LISTENER]`
    /// (both, while traffic moves). See docs/migration.md.
    #[arg(long, env = "MESHROUTE_SERVE", value_delimiter = ',', value_parser = reconcile::serving::rule)]
    pub serve: Vec<reconcile::serving::Rule>,
    /// The Gateway API implementation the Gateway API backend writes for: generic, or lattice
    /// (the AWS Gateway API Controller for VPC Lattice), as `export gateway-api --target`.
    #[arg(
        long,
        env = "MESHROUTE_GATEWAY_API_TARGET",
        value_enum,
        default_value = "generic"
    )]
    pub gateway_api_target: TargetArg,
    /// How routes are mapped for the Gateway API backend, as `export gateway-api` maps them.
    #[command(flatten)]
    pub mapping: gatewayapi::args::MappingArgs,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "MESHROUTE_NAMESPACE")]
    pub namespace: Option<String>,
    /// Watch only GatewayRoutes with these labels (`shard=a,team=web`), to run shards side by side.
    #[arg(long, env = "MESHROUTE_LABEL_SELECTOR")]
    pub label_selector: Option<String>,
    /// GatewayRoutes reconciled at the same time.
    #[arg(long, env = "MESHROUTE_CONCURRENCY", default_value_t = 8)]
    pub concurrency: u16,
    /// How often in-sync routes are checked for drift in App Mesh: one ListGatewayRoutes
    /// call per 100 routes of a virtual gateway, gateways spread over the period; only changed
    /// routes are then described and put back. 0 turns the check off. Units: s, m, h.
    #[arg(long, env = "MESHROUTE_RESYNC_PERIOD", default_value = "10m", value_parser = flags::duration)]
    pub resync_period: Duration,
    /// How often each in-sync route's tags are checked (one ListTagsForResource call each,
    /// spread evenly; tags do not change a route's version, so pages cannot show them). 0
    /// turns the check off.
    #[arg(long, env = "MESHROUTE_TAG_CHECK_PERIOD", default_value = "1h", value_parser = flags::duration)]
    pub tag_check_period: Duration,
    /// First retry delay after a failure; it doubles per failure up to --retry-max.
    #[arg(long, env = "MESHROUTE_RETRY_BASE", default_value = "1s", value_parser = flags::duration)]
    pub retry_base: Duration,
    /// Longest retry delay, also used for quota, permission and name conflicts.
    #[arg(long, env = "MESHROUTE_RETRY_MAX", default_value = "5m", value_parser = flags::duration)]
    pub retry_max: Duration,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "MESHROUTE_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,
    /// Log format: auto is JSON when not on a terminal.
    #[arg(long, env = "MESHROUTE_LOG_FORMAT", value_enum, default_value = "auto")]
    pub log_format: LogFormat,
    /// Elect one leader among replicas on a Lease; only the leader reconciles. Turn off only
    /// when exactly one replica runs.
    #[arg(long, env = "MESHROUTE_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    /// Name of the leader Lease; shards (--label-selector) need one each.
    #[arg(long, env = "MESHROUTE_LEASE_NAME", default_value = "meshroute")]
    pub lease_name: String,
    /// Namespace of the leader Lease (in a pod: its own namespace, from POD_NAMESPACE).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,
    /// This replica's name in the Lease (in a pod: its name, from POD_NAME).
    #[arg(long, env = "POD_NAME")]
    pub lease_identity: Option<String>,
    /// Seconds a lease lasts without renewal: the longest a dead leader is waited for. The
    /// leader renews every third of it, and writes only within 90% of it after its last renewal
    /// by its own clock, so a leader paused or cut off stops before a standby takes over.
    #[arg(long, env = "MESHROUTE_LEASE_DURATION", default_value_t = 15)]
    pub lease_duration: u64,
}

/// Runs the operator until SIGTERM or Ctrl-C (or, with leader election, until the Lease is lost):
/// the HTTP endpoints, then the controller once this replica leads.
pub async fn run(args: RunArgs) -> Result<(), Box<dyn std::error::Error>> {
    let serving = reconcile::serving::Servings::new(args.serve)?;
    for rule in serving.describe() {
        tracing::info!(rule, "serving");
    }
    let metrics = Arc::new(Metrics::default());
    let client = kube::Client::try_default().await?;
    let appmesh = AppMesh::new(&args.appmesh.settings(), metrics.clone());
    let fence = appmesh.fence();
    let identity = args
        .lease_identity
        .clone()
        .unwrap_or_else(|| format!("meshroute-{}", std::process::id()));
    let ctx = Context::new(
        client.clone(),
        appmesh,
        metrics.clone(),
        reconcile::Config {
            cluster_id: args.cluster_id,
            namespace: args.namespace,
            label_selector: args.label_selector,
            shard: format!("{}/{}", args.lease_namespace, args.lease_name),
            concurrency: args.concurrency,
            resync: Some(args.resync_period).filter(|d| !d.is_zero()),
            tag_check: Some(args.tag_check_period).filter(|d| !d.is_zero()),
            retry_base: args.retry_base,
            retry_max: args.retry_max,
            require_policy: args.require_policy,
            serving,
            gateway_api: args.mapping.options(args.gateway_api_target.into())?,
        },
        identity.clone(),
    );
    let health = Arc::new(Health::default());
    let listener = crate::http::bind(args.http_addr).await?;
    tracing::info!(address = %listener.local_addr()?, "serving /healthz, /readyz, /metrics");

    // One stop signal for everything: SIGTERM or Ctrl-C.
    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install the SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("stopping: finishing the reconciles in flight");
        let _ = stop_tx.send(true);
    });
    let mut http_stop = stop.clone();
    let http = tokio::spawn(crate::http::serve(
        listener,
        metrics,
        health.clone(),
        async move {
            let _ = http_stop.wait_for(|s| *s).await;
        },
    ));

    let result = if args.leader_election {
        let election = leader::Election {
            namespace: args.lease_namespace,
            name: args.lease_name,
            identity,
            duration: args.lease_duration,
        };
        let health = health.clone();
        leader::lead(client, election, health.clone(), fence, stop, |trigger| {
            reconcile::run(ctx, health, trigger)
        })
        .await
        .map_err(Into::into)
    } else {
        health.set_role(Role::Single);
        let mut stop = stop;
        reconcile::run(ctx, health, async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
        Ok(())
    };
    http.abort();
    tracing::info!("stopped");
    result
}
