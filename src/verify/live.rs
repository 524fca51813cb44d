//! `verify --gateway`: the generated requests sent to a running gateway (the Gateway API
//! implementation, during `both` or after) and each answer compared with App Mesh's model, or
//! with a reference gateway that still answers as App Mesh did. Rate-limited, a bounded number in
//! flight, each request repeated to tell stable answers from varying ones; Ctrl-C reports what
//! was found so far.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use appmesh_routing::gateway::Protocol;
use bytes::Bytes;
use clap::Args;
use futures::StreamExt;
use http_body_util::{BodyExt, Full, Limited};
use serde::Serialize;
use serde_json::json;

use super::Checked;
use super::answer::{Answer, Taken};
use super::report::{SHOWN, codes};
use super::request::Request;
use crate::migrate::Error;
use crate::migrate::export::ReportFormat;

/// The live mode's flags.
#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Send the generated requests to this running gateway (`http://HOST:PORT`, e.g. the
    /// Gateway API implementation's listener) and compare each answer with App Mesh's model
    /// (its status, and the path and Host an echo backend reports in `x-echo-path` and
    /// `x-echo-host`), or with --reference's answer.
    #[arg(long, value_name = "URL")]
    pub gateway: Option<String>,
    /// A gateway that still answers as App Mesh did (an App Mesh gateway on its last
    /// configuration, or the emulator serving the imported routes): each answer of --gateway
    /// is compared with its answer to the same request (status, body digest, --header).
    #[arg(long, value_name = "URL", requires = "gateway")]
    pub reference: Option<String>,
    /// An answer header to compare too (repeatable).
    #[arg(long = "header", value_name = "NAME")]
    pub headers: Vec<String>,
    /// Requests per second to each gateway.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub rps: u32,
    /// Requests in flight at most.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Times each request is sent to each gateway: answers that vary between the sends are
    /// reported as varying, not as differences.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
    pub repeat: u16,
    /// Leave the body out of the comparison with --reference: for backends whose answer
    /// carries what differs by gateway anyway (an echo of the request's headers, to which each
    /// gateway adds its own).
    #[arg(long)]
    pub no_body: bool,
    /// Send only the requests of the routes App Mesh served on listeners of this protocol
    /// (`http`, `http2` or `grpc`): --gateway and --reference are listeners of it. A virtual
    /// gateway with listeners of several protocols is verified one protocol at a time.
    #[arg(long, value_name = "PROTOCOL", value_parser = listener_protocol)]
    pub protocol: Option<Protocol>,
    /// Seconds to wait for an answer.
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
}

/// What a gateway answered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Observed {
    Answer {
        status: u16,
        /// The body's digest (64-bit, hex).
        body: String,
        /// `x-echo-path`, `x-echo-host`, `grpc-status` and the --header names, where present.
        headers: Vec<(String, String)>,
    },
    /// No HTTP answer: the connection failed, timed out, or what came back was not HTTP.
    Failed(String),
}

impl Observed {
    fn header(&self, name: &str) -> Option<&str> {
        match self {
            Observed::Answer { headers, .. } => headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str()),
            Observed::Failed(_) => None,
        }
    }
}

impl std::fmt::Display for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Observed::Answer {
                status,
                body,
                headers,
            } => {
                write!(f, "HTTP {status} body {body}")?;
                for (n, v) in headers {
                    write!(f, " {n}: {v}")?;
                }
                Ok(())
            }
            Observed::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}

/// One request's live result.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Result_ {
    request: Request,
    /// What the gateway answered each time.
    gateway: Vec<Observed>,
    /// What the reference answered each time, or App Mesh's model.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reference: Vec<Observed>,
    app_mesh: Taken,
    verdict: LiveVerdict,
    /// The request's place among those made, to report in that order.
    #[serde(skip)]
    index: usize,
    /// What the offline run says of this request: the finding codes that announce a
    /// difference, `unannounced`, or nothing when both models answer it alike.
    predicted: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
enum LiveVerdict {
    Alike,
    Different,
    /// A gateway answered the same request differently from one send to the next.
    Varying,
    Failed,
}

/// The answer headers always read: an echo backend's report, and a gRPC status.
const READ: [&str; 3] = ["x-echo-path", "x-echo-host", "grpc-status"];

pub async fn run(
    args: &LiveArgs,
    checked: Vec<Checked>,
    format: ReportFormat,
) -> Result<(), Error> {
    let gateway = authority(args.gateway.as_deref().unwrap_or_default())?;
    let reference = args.reference.as_deref().map(authority).transpose()?;
    let names: Arc<Vec<String>> = Arc::new(
        READ.iter()
            .map(|s| s.to_string())
            .chain(args.headers.iter().map(|h| h.to_ascii_lowercase()))
            .collect(),
    );
    // One request per path, Host, method and headers: a listener port of the model is not the
    // live gateway's.
    let mut seen = std::collections::HashSet::new();
    let work: Vec<(Request, Taken, Vec<String>)> = checked
        .into_iter()
        .map(|c| {
            (
                c.request,
                c.app_mesh,
                c.verdict.as_ref().map(codes).unwrap_or_default(),
            )
        })
        .filter(|(r, ..)| args.protocol.is_none_or(|p| p == r.protocol))
        .filter(|(r, ..)| {
            seen.insert((
                r.method.clone(),
                r.path.clone(),
                r.host.clone(),
                r.headers.clone(),
                r.protocol == Protocol::Grpc,
            ))
        })
        .collect();
    let total = work.len();
    let period = Duration::from_secs_f64(1.0 / f64::from(args.rps));
    let ticker = Arc::new(tokio::sync::Mutex::new(tokio::time::interval(period)));
    let timeout = Duration::from_secs(args.timeout);
    let repeat = args.repeat;
    let no_body = args.no_body;
    let mut stream = futures::stream::iter(work)
        .enumerate()
        .map(|(index, (request, app_mesh, predicted))| {
            let (gateway, reference, names, ticker) = (
                gateway.clone(),
                reference.clone(),
                names.clone(),
                ticker.clone(),
            );
            async move {
                let mut seen_gateway = Vec::new();
                let mut seen_reference = Vec::new();
                for _ in 0..repeat {
                    ticker.lock().await.tick().await;
                    seen_gateway.push(bodiless(
                        send(&gateway, &request, &names, timeout).await,
                        no_body,
                    ));
                    if let Some(reference) = &reference {
                        seen_reference.push(bodiless(
                            send(reference, &request, &names, timeout).await,
                            no_body,
                        ));
                    }
                }
                let verdict = judge(&seen_gateway, &seen_reference, &app_mesh.answer);
                Result_ {
                    request,
                    gateway: seen_gateway,
                    reference: seen_reference,
                    app_mesh,
                    verdict,
                    index,
                    predicted,
                }
            }
        })
        .buffer_unordered(usize::from(args.concurrency));
    let progress = std::io::stderr().is_terminal();
    let mut results: Vec<Result_> = Vec::new();
    let interrupted = loop {
        tokio::select! {
            next = stream.next() => match next {
                Some(r) => {
                    results.push(r);
                    if progress {
                        eprint!("\rmeshroute verify: {}/{total} requests", results.len());
                    }
                }
                None => break false,
            },
            _ = tokio::signal::ctrl_c() => break true,
        }
    };
    if progress {
        eprintln!();
    }
    // Reported in the order the requests were made.
    results.sort_by_key(|r| r.index);
    let count = |v: LiveVerdict| results.iter().filter(|r| r.verdict == v).count();
    // Live differences the offline run predicted (as announced or not), and those it did not:
    // a gap of a model, or the implementation's own deviation from the specification.
    let foreseen = results
        .iter()
        .filter(|r| r.verdict == LiveVerdict::Different && !r.predicted.is_empty())
        .count();
    let unforeseen = count(LiveVerdict::Different) - foreseen;
    let (alike, different, varying, failed) = (
        count(LiveVerdict::Alike),
        count(LiveVerdict::Different),
        count(LiveVerdict::Varying),
        count(LiveVerdict::Failed),
    );
    let against = if reference.is_some() {
        "the reference"
    } else {
        "App Mesh's model"
    };
    match format {
        ReportFormat::Json => {
            let shown: Vec<&Result_> = results
                .iter()
                .filter(|r| r.verdict != LiveVerdict::Alike)
                .collect();
            println!(
                "{}",
                json!({
                    "summary": {
                        "requests": total, "sent": results.len(), "interrupted": interrupted,
                        "alike": alike, "different": different, "varying": varying,
                        "failed": failed, "against": against,
                        "differentAsPredicted": foreseen, "differentUnpredicted": unforeseen,
                    },
                    "results": shown,
                })
            );
        }
        ReportFormat::Text => {
            println!(
                "meshroute verify --gateway: {} of {total} requests sent{}, each {repeat} time(s), \
                 compared with {against}: {alike} alike, {different} different ({foreseen} as \
                 the offline run predicts, {unforeseen} not), {varying} varying, {failed} failed",
                results.len(),
                if interrupted { " (interrupted)" } else { "" },
            );
            // SHOWN of each route, verdict and prediction, the groups in the order of their
            // first request.
            let mut groups: Vec<(Group, Vec<&Result_>)> = Vec::new();
            let mut place: HashMap<Group, usize> = HashMap::new();
            for r in results.iter().filter(|r| r.verdict != LiveVerdict::Alike) {
                let key = (r.request.from.as_str(), r.verdict, r.predicted.as_slice());
                let i = *place.entry(key).or_insert_with(|| {
                    groups.push((key, Vec::new()));
                    groups.len() - 1
                });
                groups[i].1.push(r);
            }
            for ((from, verdict, predicted), members) in groups {
                let offline = if predicted.is_empty() {
                    "alike offline".to_string()
                } else {
                    format!("offline: {}", predicted.join(", "))
                };
                println!(
                    "{from} [{verdict:?}; {offline}] {} request(s):",
                    members.len()
                );
                for r in members.iter().take(SHOWN) {
                    let theirs = r.reference.first().map_or_else(
                        || format!("App Mesh {}", r.app_mesh.answer),
                        |o| format!("reference {o}"),
                    );
                    println!(
                        "  {} ({}): gateway {}; {theirs}",
                        r.request,
                        r.request.why,
                        r.gateway
                            .first()
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                    );
                }
                if members.len() > SHOWN {
                    println!("  ... and {} more", members.len() - SHOWN);
                }
            }
        }
    }
    if failed > 0 || interrupted {
        return Err(Error::Live {
            failed,
            interrupted,
        });
    }
    Ok(())
}

/// The answer without its body's digest when `no_body`.
fn bodiless(observed: Observed, no_body: bool) -> Observed {
    match observed {
        Observed::Answer {
            status, headers, ..
        } if no_body => Observed::Answer {
            status,
            body: "-".into(),
            headers,
        },
        other => other,
    }
}

/// A listener protocol as App Mesh names it.
fn listener_protocol(name: &str) -> Result<Protocol, String> {
    Protocol::of(name).ok_or_else(|| format!("{name:?} is not http, http2 or grpc"))
}

/// `host:port` of an `http://` URL.
fn authority(url: &str) -> Result<String, Error> {
    let bad = |why: &str| Error::Input {
        path: url.to_string(),
        message: format!("{why}; give the gateway as http://HOST:PORT"),
    };
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad("only http:// is supported"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok(if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    })
}

/// The differences a text report shows together: of one route, verdict and offline verdict.
type Group<'a> = (&'a str, LiveVerdict, &'a [String]);

/// How a request's answers compare.
fn judge(gateway: &[Observed], reference: &[Observed], model: &Answer) -> LiveVerdict {
    if gateway
        .iter()
        .chain(reference)
        .any(|o| matches!(o, Observed::Failed(_)))
    {
        return LiveVerdict::Failed;
    }
    let stable = |seen: &[Observed]| seen.windows(2).all(|w| w[0] == w[1]);
    if !stable(gateway) || !stable(reference) {
        return LiveVerdict::Varying;
    }
    let got = &gateway[0];
    let alike = match reference.first() {
        Some(theirs) => theirs == got,
        None => model_agrees(model, got),
    };
    if alike {
        LiveVerdict::Alike
    } else {
        LiveVerdict::Different
    }
}

/// An answer agrees with App Mesh's model when a request the model answers itself gets that
/// status (a gRPC call: UNIMPLEMENTED, 12, or HTTP 404 for the model's 404), and a request the
/// model sends on is not answered 404 and, where an echo backend reports them, reached it with
/// the path and Host the model predicts.
fn model_agrees(model: &Answer, got: &Observed) -> bool {
    let Observed::Answer { status, .. } = got else {
        return false;
    };
    match model {
        Answer::Status(want) => {
            *status == *want || (*want == 404 && got.header("grpc-status") == Some("12"))
        }
        Answer::Sent { path, host, .. } => {
            *status != 404
                && got.header("grpc-status") != Some("12")
                && got.header("x-echo-path").is_none_or(|p| p == path)
                && got.header("x-echo-host").is_none_or(|h| h == host)
        }
    }
}

/// Sends `request` to `authority` (HTTP/1.1; HTTP/2 without TLS for http2 and gRPC), reading
/// `names` of the answer.
async fn send(authority: &str, request: &Request, names: &[String], timeout: Duration) -> Observed {
    match tokio::time::timeout(timeout, exchange(authority, request, names)).await {
        Ok(Ok(observed)) if request.protocol == Protocol::Grpc => as_grpc_client_sees(observed),
        Ok(Ok(observed)) => observed,
        Ok(Err(e)) => Observed::Failed(e),
        Err(_) => Observed::Failed(format!("no answer in {} s", timeout.as_secs())),
    }
}

/// A gRPC call's answer as its client reads it: an HTTP status other than 200 without a
/// `grpc-status` is the gRPC status gRPC's HTTP-to-gRPC mapping gives it (doc/
/// http-grpc-status-mapping.md in grpc/grpc: 404 UNIMPLEMENTED, 429, 502, 503 and 504
/// UNAVAILABLE, ...). So one gateway's trailers-only `grpc-status: 12` for a call no route takes
/// and another's HTTP 404 are the same answer, as they are to the caller.
fn as_grpc_client_sees(observed: Observed) -> Observed {
    match observed {
        Observed::Answer {
            status,
            mut headers,
            ..
        } if status != 200 && !headers.iter().any(|(n, _)| n == "grpc-status") => {
            let code = match status {
                400 => 13,
                401 => 16,
                403 => 7,
                404 => 12,
                429 | 502 | 503 | 504 => 14,
                _ => 2,
            };
            headers.push(("grpc-status".into(), code.to_string()));
            // The caller reads no message from it.
            Observed::Answer {
                status: 200,
                body: digest(&[]),
                headers,
            }
        }
        other => other,
    }
}

/// A body's digest (64-bit, hex).
fn digest(body: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

async fn exchange(
    authority: &str,
    request: &Request,
    names: &[String],
) -> Result<Observed, String> {
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| format!("connect to {authority}: {e}"))?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let mut builder = http::Request::builder().method(request.method.as_str());
    let h2 = request.protocol != Protocol::Http;
    builder = if h2 {
        builder.uri(format!("http://{}{}", request.host, request.path))
    } else {
        builder
            .uri(&request.path)
            .header(http::header::HOST, &request.host)
    };
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    if request.protocol == Protocol::Grpc {
        builder = builder.header("te", "trailers");
    }
    let req = builder
        .body(Full::new(Bytes::new()))
        .map_err(|e| format!("the request cannot be sent: {e}"))?;
    let not_http = |e: hyper::Error| format!("not an HTTP answer: {e}");
    let response = if h2 {
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                .await
                .map_err(not_http)?;
        tokio::spawn(conn);
        sender.send_request(req).await.map_err(not_http)?
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(not_http)?;
        tokio::spawn(conn);
        sender.send_request(req).await.map_err(not_http)?
    };
    let status = response.status().as_u16();
    let mut headers: Vec<(String, String)> = names
        .iter()
        .filter_map(|n| {
            let v = response.headers().get(n.as_str())?;
            Some((
                n.clone(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            ))
        })
        .collect();
    let collected = Limited::new(response.into_body(), 1 << 20)
        .collect()
        .await
        .map_err(|e| format!("the answer's body: {e}"))?;
    if let Some(trailers) = collected.trailers()
        && let Some(v) = trailers.get("grpc-status")
        && !headers.iter().any(|(n, _)| n == "grpc-status")
    {
        headers.push((
            "grpc-status".into(),
            String::from_utf8_lossy(v.as_bytes()).into_owned(),
        ));
    }
    Ok(Observed::Answer {
        status,
        body: digest(&collected.to_bytes()),
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)]) -> Observed {
        Observed::Answer {
            status,
            body: digest(b"404 page not found"),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn a_grpc_answer_is_what_its_caller_reads() {
        let trailers_only = Observed::Answer {
            status: 200,
            body: digest(&[]),
            headers: vec![("grpc-status".into(), "12".into())],
        };
        // (answer, what a gRPC caller reads)
        let rows = [
            (answer(404, &[]), trailers_only.clone()),
            (trailers_only.clone(), trailers_only.clone()),
            (
                answer(503, &[]),
                Observed::Answer {
                    status: 200,
                    body: digest(&[]),
                    headers: vec![("grpc-status".into(), "14".into())],
                },
            ),
            (answer(200, &[]), answer(200, &[])),
            (
                answer(404, &[("grpc-status", "5")]),
                answer(404, &[("grpc-status", "5")]),
            ),
            (
                Observed::Failed("refused".into()),
                Observed::Failed("refused".into()),
            ),
        ];
        for (seen, read) in rows {
            assert_eq!(as_grpc_client_sees(seen.clone()), read, "{seen}");
        }
        let model = Answer::Status(404);
        assert_eq!(
            judge(
                &[as_grpc_client_sees(answer(404, &[]))],
                std::slice::from_ref(&trailers_only),
                &model
            ),
            LiveVerdict::Alike
        );
        assert!(model_agrees(&model, &trailers_only));
    }
}
