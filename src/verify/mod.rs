//! `meshroute verify`: proves, request by request, what `export gateway-api` keeps. From every
//! route's match it makes the requests at the route's boundaries (`request`), asks App Mesh's
//! routing model (`app_mesh`, the emulator's own) and a model of Gateway API's matching over the
//! exported objects (`gateway_api`) where each goes, and reports every difference with the
//! finding that announced it or `unannounced` (`judge`, `report`). With `--gateway` it sends the
//! same requests to running gateways (`live`).

pub mod answer;
mod app_mesh;
pub mod gateway_api;
pub mod judge;
mod live;
mod report;
pub mod request;

use clap::Args;
use serde::Serialize;

use crate::api::GatewayRoute;
use crate::gatewayapi::{self, Aspect, Export, Options};
use crate::migrate::Error;
use crate::migrate::export::{Mapped, Source};
pub use answer::{Answer, Taken};
pub use judge::{Judge, Verdict};
pub use request::Request;

/// `meshroute verify`: every flag.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub source: Source,
    #[command(flatten)]
    pub mapped: Mapped,
    /// Format of the report on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub report: crate::migrate::export::ReportFormat,
    /// Exit 1 when any request is answered differently and the difference is not both
    /// announced by a finding and accepted with --accept.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub live: live::LiveArgs,
}

/// One request and both answers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Checked {
    pub request: Request,
    pub app_mesh: Taken,
    pub gateway_api: Taken,
    /// What differs; empty when both answer alike.
    pub differs: Vec<Aspect>,
    /// What the findings say of the difference.
    #[serde(skip)]
    pub verdict: Option<Verdict>,
}

/// The routes' requests and both models' answers, judged by the export's findings.
pub fn check(routes: &[GatewayRoute], opts: &Options, export: &Export) -> Vec<Checked> {
    checked(routes, opts, export, requests(routes, opts))
}

/// Both models' answers to `requests` (each sent to the gateway of the route it names), judged
/// by the export's findings.
pub fn checked(
    routes: &[GatewayRoute],
    opts: &Options,
    export: &Export,
    requests: Vec<Request>,
) -> Vec<Checked> {
    let app_mesh = app_mesh::AppMesh::new(routes, opts).answers(&requests);
    let gateway_api = gateway_api::GatewayApi::new(&export.objects, gatewayapi::gateways(routes))
        .answers(&requests);
    let judge = Judge::new(&export.findings);
    requests
        .into_iter()
        .zip(app_mesh.into_iter().zip(gateway_api))
        .map(|(request, (app_mesh, gateway_api))| {
            let differs = answer::differences(&app_mesh.answer, &gateway_api.answer);
            let verdict = (!differs.is_empty()).then(|| {
                let involved: Vec<&str> = [&app_mesh.by, &gateway_api.by]
                    .into_iter()
                    .flatten()
                    .map(String::as_str)
                    .collect();
                judge.verdict(&differs, &request.path, &request.host, &involved)
            });
            Checked {
                request,
                app_mesh,
                gateway_api,
                differs,
                verdict,
            }
        })
        .collect()
}

/// Every route's requests, on the listener ports of its virtual gateway that `import` recorded
/// (those of its protocol, then the others), or on `--gateway-port` (`request::requests`).
pub fn requests(routes: &[GatewayRoute], opts: &Options) -> Vec<Request> {
    let fallback = u16::try_from(opts.gateway_port).unwrap_or(80);
    routes
        .iter()
        .flat_map(|route| {
            let from = format!(
                "{}/{}",
                route.metadata.namespace.as_deref().unwrap_or_default(),
                route.metadata.name.as_deref().unwrap_or_default()
            );
            let spec = serde_json::to_value(&route.spec).unwrap_or_default();
            let listeners: Vec<(&str, u16)> = crate::api::recorded::listeners(route)
                .into_iter()
                .filter_map(|l| Some((l.protocol, u16::try_from(l.port).ok()?)))
                .collect();
            request::requests(&from, &spec, &listeners, fallback)
        })
        .collect()
}

/// Runs `meshroute verify`: offline, or live with `--gateway`.
pub async fn run(args: VerifyArgs) -> Result<(), Error> {
    // A route that cannot be read is reported (file and line) and the others are verified;
    // the exit status says so.
    let (routes, unreadable) = args.source.read_what_can_be_read().await?;
    let opts = args.mapped.options()?;
    let export = gatewayapi::export(&routes, &opts);
    let checked = check(&routes, &opts, &export);
    if args.live.gateway.is_some() {
        // Each live answer is compared with App Mesh's model or the reference; the offline
        // verdict says whether the export's findings foresaw a difference.
        live::run(&args.live, checked, args.report).await?;
        return Error::unless_unreadable(unreadable);
    }
    let totals = report::print(&checked, routes.len(), args.report);
    let refused = totals.unannounced + totals.announced - totals.accepted;
    if args.strict && refused > 0 {
        return Err(Error::Differences(refused));
    }
    Error::unless_unreadable(unreadable)
}
