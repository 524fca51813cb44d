//! A virtual gateway's data plane: each of its listeners served on loopback (HTTP/1.1 and h2c on
//! one port), every request routed by the gateway routes the emulator holds at that moment
//! (`routing`), and forwarded to the address given for the target virtual service: HTTP/1.1
//! for an `http` listener, h2c for `http2` and `grpc`. No route: 404, as Envoy answers, and on
//! a `grpc` listener Envoy's gRPC answer, HTTP 200 with `grpc-status: 12` (UNIMPLEMENTED) and no
//! body (trailers only); no address for the virtual service, or none answering: 503.

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

use crate::routing::{self, Protocol};

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

/// What routes a request: the gateway, and which of its listeners took it.
/// What a gateway's data plane needs of its control plane, read on every request: the gateway
/// routes as they are now, and where each virtual service is served.
pub trait ControlPlane: Send + Sync + 'static {
    fn gateway_routes(&self, mesh: &str, gateway: &str) -> Vec<routing::StoredRoute>;
    fn backend(&self, mesh: &str, service: &str) -> Option<SocketAddr>;
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

/// Serves a stand-in backend for the virtual service `service` on `bind`: it answers every
/// request with what it received (method, path, Host, protocol, headers) as JSON, and the
/// path and Host in `x-echo-*` headers, so one can see where a route sends requests.
pub async fn serve_echo(service: &str, bind: SocketAddr) -> std::io::Result<SocketAddr> {
    let socket = TcpListener::bind(bind).await?;
    let address = socket.local_addr()?;
    let service: Arc<str> = service.into();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = socket.accept().await else {
                continue;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let answer = service_fn(move |req: Request<Incoming>| {
                    let service = service.clone();
                    async move {
                        // The whole request is read before the answer: answering first ends the
                        // HTTP/2 stream while the client still sends, which resets it (a gRPC
                        // call through the gateway then failed now and then).
                        let (parts, body) = req.into_parts();
                        let _ = body.collect().await;
                        Ok::<_, Infallible>(echo(&service, &Request::from_parts(parts, ())))
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

fn echo<B>(service: &str, req: &Request<B>) -> Response<Body> {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let host = authority(req).unwrap_or_default();
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
        .collect();
    let body = serde_json::json!({
        "virtualService": service, "method": req.method().as_str(), "path": path,
        "host": host, "protocol": format!("{:?}", req.version()), "headers": headers,
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-echo-virtual-service", service)
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
        return match l.protocol {
            routing::Protocol::Grpc => grpc_unimplemented(),
            _ => plain(StatusCode::NOT_FOUND, ""),
        };
    };
    let Some(backend) = emulator.backend(&l.mesh, &routed.virtual_service) else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "no healthy upstream");
    };
    tracing::debug!(route = routed.route, backend = %backend, path = routed.path_and_query, "routed");
    match forward(req, &routed, backend, l.protocol).await {
        Ok(response) => response,
        Err(e) => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("upstream connect error or disconnect/reset before headers: {e}"),
        ),
    }
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

/// Sends the request on to `backend` with the rewritten path and Host.
async fn forward(
    req: Request<Incoming>,
    routed: &routing::Routed,
    backend: SocketAddr,
    protocol: Protocol,
) -> Result<Response<Body>, Box<dyn std::error::Error + Send + Sync>> {
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
