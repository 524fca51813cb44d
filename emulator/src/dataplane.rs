//! A virtual gateway's data plane: each of its listeners served on loopback (HTTP/1.1 and h2c on
//! one port), every request routed by the gateway routes the emulator holds at that moment
//! (`routing`), and forwarded to the address given for the target virtual service: HTTP/1.1
//! for an `http` listener, h2c for `http2` and `grpc`. No route: 404, as Envoy answers, and on
//! a `grpc` listener Envoy's gRPC answer, HTTP 200 with `grpc-status: 12` (UNIMPLEMENTED) and no
//! body (trailers only); no address for the virtual service, or none answering: 503.
//!
//! A virtual service served as a whole (an address given for it) takes its requests there.
//! Otherwise its provider does: a virtual node's address, or a virtual router's routes
//! (`router`): the route that takes the request, a weighted pick of its target nodes, its
//! per-request timeout (504 when it runs out) and retry policy.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};

use crate::store::ProviderView;
use appmesh_routing::gateway::{self as routing, Protocol};
use appmesh_routing::router::{self, Attempt};

type Body = BoxBody<Bytes, hyper::Error>;

/// One listener of a virtual gateway, as served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Served {
    /// The listener's port in the virtual gateway's spec (what `match.port` compares with).
    pub port: u16,
    pub protocol: String,
    /// Where it is served.
    pub address: SocketAddr,
}

/// What a gateway's data plane needs of its control plane, read on every request: the gateway
/// routes as they are now, where each virtual service or virtual node is served, and each
/// virtual service's provider.
pub trait ControlPlane: Send + Sync + 'static {
    fn gateway_routes(&self, mesh: &str, gateway: &str) -> Vec<routing::StoredRoute>;
    /// Where `place` is served, if anywhere.
    fn backend(&self, mesh: &str, place: &Place) -> Option<SocketAddr>;
    fn provider(&self, mesh: &str, service: &str) -> Option<ProviderView>;
}

/// What an address serves: a virtual service as a whole, or a virtual node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Place {
    Service(String),
    Node(String),
}

impl Place {
    /// The member of an echo's answer that names it, and the header that repeats it.
    fn echo_names(&self) -> (&'static str, &'static str, &str) {
        match self {
            Place::Service(name) => ("virtualService", "x-echo-virtual-service", name),
            Place::Node(name) => ("virtualNode", "x-echo-virtual-node", name),
        }
    }
}

#[derive(Debug, Clone)]
struct Listener {
    mesh: String,
    gateway: String,
    port: u16,
    protocol: Protocol,
}

/// Serves one listener on `bind` until the runtime stops; returns where it listens.
pub async fn serve_listener(
    emulator: Arc<dyn ControlPlane>,
    mesh: &str,
    gateway: &str,
    port: u16,
    protocol: &str,
    bind: SocketAddr,
) -> std::io::Result<Served> {
    let kind = Protocol::of(protocol).ok_or_else(|| {
        std::io::Error::other(format!(
            "listener protocol {protocol} is not http, http2 or grpc"
        ))
    })?;
    let socket = TcpListener::bind(bind).await?;
    let address = socket.local_addr()?;
    let listener = Arc::new(Listener {
        mesh: mesh.to_string(),
        gateway: gateway.to_string(),
        port,
        protocol: kind,
    });
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = socket.accept().await else {
                continue;
            };
            let (emulator, listener) = (emulator.clone(), listener.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let (emulator, listener) = (emulator.clone(), listener.clone());
                    async move { Ok::<_, Infallible>(handle(&*emulator, &listener, req).await) }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(Served {
        port,
        protocol: protocol.to_string(),
        address,
    })
}

/// The request header that makes an echo backend wait that many milliseconds (at most
/// `ECHO_MAX_DELAY`) before it answers: a slow backend, for timeouts.
pub const ECHO_DELAY_HEADER: &str = "x-echo-delay-ms";
const ECHO_MAX_DELAY: std::time::Duration = std::time::Duration::from_secs(60);
/// The request header `n` that makes an echo backend answer 503 to every `n`th request
/// carrying it (counted per backend): a flaky backend, for retries.
pub const ECHO_FAIL_EVERY_HEADER: &str = "x-echo-fail-every";

/// Serves a stand-in backend for `place` (a virtual service or node) on `bind`: it answers
/// every request with what it received (method, path, Host, protocol, headers) and what it
/// serves as JSON, and the path, Host and what it serves in `x-echo-*` headers, so one can see
/// where a route sends requests.
pub async fn serve_echo(place: Place, bind: SocketAddr) -> std::io::Result<SocketAddr> {
    let socket = TcpListener::bind(bind).await?;
    let address = socket.local_addr()?;
    let place = Arc::new(place);
    let flaky = Arc::new(std::sync::atomic::AtomicU64::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = socket.accept().await else {
                continue;
            };
            let (place, flaky) = (place.clone(), flaky.clone());
            tokio::spawn(async move {
                let answer = service_fn(move |req: Request<Incoming>| {
                    let (place, flaky) = (place.clone(), flaky.clone());
                    async move {
                        // The whole request is read before the answer: answering first ends the
                        // HTTP/2 stream while the client still sends, which resets it (a gRPC
                        // call through the gateway then failed now and then).
                        let (parts, body) = req.into_parts();
                        let _ = body.collect().await;
                        let delay = parts
                            .headers
                            .get(ECHO_DELAY_HEADER)
                            .and_then(|v| v.to_str().ok()?.parse().ok())
                            .map(std::time::Duration::from_millis);
                        if let Some(delay) = delay {
                            tokio::time::sleep(delay.min(ECHO_MAX_DELAY)).await;
                        }
                        let every: Option<u64> = parts
                            .headers
                            .get(ECHO_FAIL_EVERY_HEADER)
                            .and_then(|v| v.to_str().ok()?.parse().ok())
                            .filter(|n| *n > 0);
                        if let Some(every) = every {
                            let n = flaky.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                            if n % every == 0 {
                                return Ok(plain(StatusCode::SERVICE_UNAVAILABLE, "flaky"));
                            }
                        }
                        Ok::<_, Infallible>(echo(&place, &Request::from_parts(parts, ())))
                    }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), answer)
                    .await;
            });
        }
    });
    Ok(address)
}

/// The request's authority: `:authority` (HTTP/2), else the Host header (HTTP/1.1).
fn authority<B>(req: &Request<B>) -> Option<String> {
    req.uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        })
}

fn echo<B>(place: &Place, req: &Request<B>) -> Response<Body> {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let host = authority(req).unwrap_or_default();
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
        .collect();
    let (member, header, name) = place.echo_names();
    let body = serde_json::json!({
        member: name, "method": req.method().as_str(), "path": path,
        "host": host, "protocol": format!("{:?}", req.version()), "headers": headers,
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(header, name)
        .header("x-echo-path", path)
        .header("x-echo-host", host)
        .body(
            Full::new(Bytes::from(format!("{body}\n")))
                .map_err(|never| match never {})
                .boxed(),
        )
        .expect("a valid response")
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(
            Full::new(Bytes::from(text.to_string()))
                .map_err(|never| match never {})
                .boxed(),
        )
        .expect("a valid response")
}

/// What Envoy answers a gRPC call no route takes: a trailers-only response (the gRPC status in
/// the only HEADERS frame, which ends the stream), status 12, UNIMPLEMENTED.
fn grpc_unimplemented() -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/grpc")
        .header("grpc-status", "12")
        .body(
            Full::new(Bytes::new())
                .map_err(|never| match never {})
                .boxed(),
        )
        .expect("a valid response")
}

/// Envoy's answer when no route takes a request.
fn no_route(protocol: Protocol) -> Response<Body> {
    match protocol {
        Protocol::Grpc => grpc_unimplemented(),
        _ => plain(StatusCode::NOT_FOUND, ""),
    }
}

async fn handle(
    emulator: &dyn ControlPlane,
    l: &Listener,
    req: Request<Incoming>,
) -> Response<Body> {
    let routes = emulator.gateway_routes(&l.mesh, &l.gateway);
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let authority = authority(&req);
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let incoming = routing::Incoming {
        method: req.method().as_str(),
        path_and_query: &path_and_query,
        authority: authority.as_deref(),
        headers: &headers,
        listener_port: l.port,
        protocol: l.protocol,
    };
    let Some(routed) = routing::route(&routes, &incoming) else {
        return no_route(l.protocol);
    };
    // The service as a whole where an address serves it; else its provider's node.
    let service = Place::Service(routed.virtual_service.clone());
    let (backend, taken) = match emulator.backend(&l.mesh, &service) {
        Some(address) => (Some(address), None),
        None => {
            let (node, taken) = match emulator.provider(&l.mesh, &routed.virtual_service) {
                Some(ProviderView::Node(node)) => (Some(node), None),
                Some(ProviderView::Router { listener, routes }) => {
                    let (port, protocol) = listener.unwrap_or((l.port, String::new()));
                    let through = routing::Incoming {
                        path_and_query: &routed.path_and_query,
                        authority: routed.host.as_deref(),
                        listener_port: port,
                        ..incoming
                    };
                    let Some(taken) = router::take(&routes, &protocol, &through) else {
                        return no_route(l.protocol);
                    };
                    let Some(node) = router::pick(&taken.targets, random()) else {
                        return plain(StatusCode::SERVICE_UNAVAILABLE, "no healthy upstream");
                    };
                    (Some(node.to_string()), Some(taken))
                }
                _ => (None, None),
            };
            let place = node.map(Place::Node);
            (place.and_then(|p| emulator.backend(&l.mesh, &p)), taken)
        }
    };
    let Some(backend) = backend else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "no healthy upstream");
    };
    tracing::debug!(route = routed.route, backend = %backend, path = routed.path_and_query, "routed");
    let Some(taken) = taken else {
        return match forward(req, &routed, backend, l.protocol).await {
            Ok(response) => response,
            Err(e) => unreachable_upstream(&*e),
        };
    };
    through_route(req, &routed, backend, l.protocol, &taken).await
}

/// A request through a virtual router's route: within its per-request timeout (504 when it
/// runs out, as Envoy answers), tried again as its retry policy says, each attempt within the
/// policy's per-retry timeout. With a retry policy the body is held to be sent again.
async fn through_route(
    req: Request<Incoming>,
    routed: &routing::Routed,
    backend: SocketAddr,
    protocol: Protocol,
    taken: &router::Taken,
) -> Response<Body> {
    let Some(policy) = &taken.retry else {
        return match tokio::time::timeout(
            taken.per_request,
            forward(req, routed, backend, protocol),
        )
        .await
        {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => unreachable_upstream(&*e),
            Err(_) => plain(StatusCode::GATEWAY_TIMEOUT, "upstream request timeout"),
        };
    };
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "the request's body could not be read",
        );
    };
    let attempts = async {
        let mut retries = 0;
        loop {
            let mut copy = Request::new(Full::new(body.clone()));
            *copy.method_mut() = parts.method.clone();
            *copy.uri_mut() = parts.uri.clone();
            *copy.version_mut() = parts.version;
            *copy.headers_mut() = parts.headers.clone();
            let tried =
                tokio::time::timeout(policy.per_try, forward(copy, routed, backend, protocol))
                    .await;
            let (attempt, answer) = match tried {
                Ok(Ok(response)) => {
                    let grpc = response
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok()?.parse().ok());
                    let status = response.status().as_u16();
                    (Attempt::Answered { status, grpc }, response)
                }
                Ok(Err(e)) if e.downcast_ref::<std::io::Error>().is_some() => {
                    (Attempt::ConnectFailed, unreachable_upstream(&*e))
                }
                Ok(Err(e)) => (Attempt::Reset, unreachable_upstream(&*e)),
                Err(_) => (
                    Attempt::Reset,
                    plain(StatusCode::GATEWAY_TIMEOUT, "upstream request timeout"),
                ),
            };
            if retries >= policy.max_retries || !policy.retries(attempt) {
                return answer;
            }
            retries += 1;
            tokio::time::sleep(router::RetryPolicy::backoff(retries)).await;
        }
    };
    tokio::time::timeout(taken.per_request, attempts)
        .await
        .unwrap_or_else(|_| plain(StatusCode::GATEWAY_TIMEOUT, "upstream request timeout"))
}

/// Envoy's answer when the upstream cannot be reached or breaks before answering.
fn unreachable_upstream(e: &(dyn std::error::Error + Send + Sync)) -> Response<Body> {
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("upstream connect error or disconnect/reset before headers: {e}"),
    )
}

/// A uniformly random `u64`, for the weighted pick (std's per-process random hash keys, a new
/// key each call).
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// Headers of one connection, which HTTP/2 forbids and a proxy does not pass on.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "host",
];

/// Sends the request on to `backend` with the rewritten path and Host. A failure to connect is
/// an `std::io::Error`; anything else broke after the connection.
async fn forward<B>(
    req: Request<B>,
    routed: &routing::Routed,
    backend: SocketAddr,
    protocol: Protocol,
) -> Result<Response<Body>, Box<dyn std::error::Error + Send + Sync>>
where
    B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (mut parts, body) = req.into_parts();
    let host = routed.host.clone().unwrap_or_else(|| backend.to_string());
    let te_trailers = parts
        .headers
        .get(header::TE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"trailers"));
    for name in HOP_BY_HOP {
        parts.headers.remove(name);
    }
    let stream = TcpStream::connect(backend).await?;
    if protocol == Protocol::Http {
        parts.uri = routed.path_and_query.parse()?;
        parts.version = http::Version::HTTP_11;
        parts
            .headers
            .insert(header::HOST, HeaderValue::from_str(&host)?);
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        return Ok(sender
            .send_request(Request::from_parts(parts, body))
            .await?
            .map(BodyExt::boxed));
    }
    parts.uri = format!("http://{host}{}", routed.path_and_query).parse()?;
    parts.version = http::Version::HTTP_2;
    if te_trailers {
        parts
            .headers
            .insert(header::TE, HeaderValue::from_static("trailers"));
    }
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender
        .send_request(Request::from_parts(parts, body))
        .await?
        .map(BodyExt::boxed))
}
