//! The HTTP side: App Mesh's REST-JSON routes (`/v20190125/...`), the admin API under
//! `/_emulator/` (a prefix the real API never uses), and the accept loop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

use crate::dataplane::Place;
use crate::emulator::Emulator;
use crate::error::ApiError;
use crate::faults::{Fault, Outcome, RateLimit};
use crate::operations::Operation;
use crate::store::{Store, uuid};

/// What an admin path's `kind` segment names: `backends/{mesh}/{virtualService}` or
/// `nodes/{mesh}/{virtualNode}`.
fn place(kind: &str, name: &str) -> Option<Place> {
    match kind {
        "backends" => Some(Place::Service(name.to_string())),
        "nodes" => Some(Place::Node(name.to_string())),
        _ => None,
    }
}

/// Maps a method and decoded path to an operation and its path parameters.
fn route(method: &Method, segments: &[String]) -> Option<(Operation, Vec<(&'static str, String)>)> {
    use Operation::*;
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let m = method.as_str();
    let (op, names): (Operation, &[&'static str]) = match (m, s.as_slice()) {
        ("PUT", ["v20190125", "meshes"]) => (CreateMesh, &[]),
        ("GET", ["v20190125", "meshes"]) => (ListMeshes, &[]),
        ("GET", ["v20190125", "meshes", _]) => (DescribeMesh, &["meshName"]),
        ("DELETE", ["v20190125", "meshes", _]) => (DeleteMesh, &["meshName"]),
        ("PUT", ["v20190125", "meshes", _, "virtualGateways"]) => {
            (CreateVirtualGateway, &["meshName"])
        }
        ("GET", ["v20190125", "meshes", _, "virtualGateways"]) => {
            (ListVirtualGateways, &["meshName"])
        }
        ("GET", ["v20190125", "meshes", _, "virtualGateways", _]) => {
            (DescribeVirtualGateway, &["meshName", "virtualGatewayName"])
        }
        ("DELETE", ["v20190125", "meshes", _, "virtualGateways", _]) => {
            (DeleteVirtualGateway, &["meshName", "virtualGatewayName"])
        }
        ("PUT", ["v20190125", "meshes", _, "virtualServices"]) => {
            (CreateVirtualService, &["meshName"])
        }
        ("GET", ["v20190125", "meshes", _, "virtualServices"]) => {
            (ListVirtualServices, &["meshName"])
        }
        ("GET", ["v20190125", "meshes", _, "virtualServices", _]) => {
            (DescribeVirtualService, &["meshName", "virtualServiceName"])
        }
        ("DELETE", ["v20190125", "meshes", _, "virtualServices", _]) => {
            (DeleteVirtualService, &["meshName", "virtualServiceName"])
        }
        ("PUT", ["v20190125", "meshes", _, "virtualNodes"]) => (CreateVirtualNode, &["meshName"]),
        ("GET", ["v20190125", "meshes", _, "virtualNodes"]) => (ListVirtualNodes, &["meshName"]),
        ("GET", ["v20190125", "meshes", _, "virtualNodes", _]) => {
            (DescribeVirtualNode, &["meshName", "virtualNodeName"])
        }
        ("DELETE", ["v20190125", "meshes", _, "virtualNodes", _]) => {
            (DeleteVirtualNode, &["meshName", "virtualNodeName"])
        }
        ("PUT", ["v20190125", "meshes", _, "virtualRouters"]) => {
            (CreateVirtualRouter, &["meshName"])
        }
        ("GET", ["v20190125", "meshes", _, "virtualRouters"]) => {
            (ListVirtualRouters, &["meshName"])
        }
        ("GET", ["v20190125", "meshes", _, "virtualRouters", _]) => {
            (DescribeVirtualRouter, &["meshName", "virtualRouterName"])
        }
        ("DELETE", ["v20190125", "meshes", _, "virtualRouters", _]) => {
            (DeleteVirtualRouter, &["meshName", "virtualRouterName"])
        }
        (
            "PUT",
            [
                "v20190125",
                "meshes",
                _,
                "virtualGateway",
                _,
                "gatewayRoutes",
            ],
        ) => (CreateGatewayRoute, &["meshName", "virtualGatewayName"]),
        (
            "GET",
            [
                "v20190125",
                "meshes",
                _,
                "virtualGateway",
                _,
                "gatewayRoutes",
            ],
        ) => (ListGatewayRoutes, &["meshName", "virtualGatewayName"]),
        (
            _,
            [
                "v20190125",
                "meshes",
                _,
                "virtualGateway",
                _,
                "gatewayRoutes",
                _,
            ],
        ) => {
            let op = match m {
                "GET" => DescribeGatewayRoute,
                "PUT" => UpdateGatewayRoute,
                "DELETE" => DeleteGatewayRoute,
                _ => return None,
            };
            (op, &["meshName", "virtualGatewayName", "gatewayRouteName"])
        }
        ("PUT", ["v20190125", "meshes", _, "virtualRouter", _, "routes"]) => {
            (CreateRoute, &["meshName", "virtualRouterName"])
        }
        ("GET", ["v20190125", "meshes", _, "virtualRouter", _, "routes"]) => {
            (ListRoutes, &["meshName", "virtualRouterName"])
        }
        (_, ["v20190125", "meshes", _, "virtualRouter", _, "routes", _]) => {
            let op = match m {
                "GET" => DescribeRoute,
                "PUT" => UpdateRoute,
                "DELETE" => DeleteRoute,
                _ => return None,
            };
            (op, &["meshName", "virtualRouterName", "routeName"])
        }
        ("PUT", ["v20190125", "tag"]) => (TagResource, &[]),
        ("PUT", ["v20190125", "untag"]) => (UntagResource, &[]),
        ("GET", ["v20190125", "tags"]) => (ListTagsForResource, &[]),
        _ => return None,
    };
    // Path parameters sit at every second segment after "meshes": 2, 4, 6.
    let params = names
        .iter()
        .enumerate()
        .map(|(i, name)| (*name, segments[2 + 2 * i].clone()))
        .collect();
    Some((op, params))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Returned by the service to make hyper close the connection without an answer.
#[derive(Debug)]
struct DroppedConnection;

impl std::fmt::Display for DroppedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}
impl std::error::Error for DroppedConnection {}

type Reply = Response<Full<Bytes>>;

fn json_reply(status: u16, body: &Value) -> Reply {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .header("x-amzn-RequestId", uuid())
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response")
}

fn error_reply(e: &ApiError) -> Reply {
    let mut reply = json_reply(e.status, &json!({ "__type": e.kind, "message": e.message }));
    reply.headers_mut().insert(
        "x-amzn-ErrorType",
        http::HeaderValue::from_str(&e.kind).unwrap_or(http::HeaderValue::from_static("Unknown")),
    );
    reply
}

impl Emulator {
    async fn handle(&self, req: Request<Incoming>) -> Result<Reply, DroppedConnection> {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or_default().to_string();
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return Err(DroppedConnection),
        };
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect();
        if segments.first().map(String::as_str) == Some("_emulator") {
            if let (&Method::POST, [_, gateways, mesh, gateway, serve]) =
                (&method, segments.as_slice())
                && gateways == "gateways"
                && serve == "serve"
            {
                return Ok(self.serve_gateway_reply(mesh, gateway, &body).await);
            }
            if let (&Method::POST, [_, kind, mesh, name, echo]) = (&method, segments.as_slice())
                && let Some(place) = place(kind, name)
                && echo == "echo"
            {
                let host = std::net::IpAddr::from([127, 0, 0, 1]);
                return Ok(match self.serve_echo(mesh, place, host).await {
                    Ok(address) => json_reply(200, &json!({ "address": address })),
                    Err(e) => json_reply(400, &json!({ "message": e })),
                });
            }
            return Ok(self.admin(&method, &segments[1..], &body));
        }
        let Some((op, params)) = route(&method, &segments) else {
            return Ok(error_reply(&ApiError::new(
                404,
                "UnknownOperationException",
                format!("No App Mesh operation at {method} {path} in this emulator."),
            )));
        };
        let name = op.name();

        let (delay, outcome) = self.faults().decide(&name);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let result = match outcome {
            Outcome::Drop => {
                self.faults().count(&name, "connectionDropped");
                return Err(DroppedConnection);
            }
            Outcome::Fail(e) => Err(e),
            Outcome::Proceed(respond_after) => {
                let result = input(params, &query, &body).and_then(|input| self.run(op, &input));
                if !respond_after.is_zero() {
                    tokio::time::sleep(respond_after).await;
                }
                result
            }
        };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.kind.as_str(),
        };
        self.faults().count(&name, outcome);
        tracing::debug!(operation = %name, outcome, "call");
        Ok(match result {
            Ok(mut body) => {
                if let Some(map) = body.as_object_mut() {
                    map.retain(|_, v| !v.is_null());
                }
                json_reply(200, &body)
            }
            Err(e) => error_reply(&e),
        })
    }

    /// `POST /_emulator/gateways/{mesh}/{gateway}/serve` (body `{"host": "127.0.0.1"}`,
    /// optional): serves the virtual gateway's listeners.
    async fn serve_gateway_reply(&self, mesh: &str, gateway: &str, body: &[u8]) -> Reply {
        let host = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["host"].as_str()?.parse().ok())
            .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
        match self.serve_gateway(mesh, gateway, host).await {
            Ok(listeners) => json_reply(200, &json!({ "listeners": listeners })),
            Err(e) => json_reply(400, &json!({ "message": e })),
        }
    }

    fn admin(&self, method: &Method, segments: &[String], body: &[u8]) -> Reply {
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let parse = |body: &[u8]| serde_json::from_slice::<Value>(body).map_err(|e| e.to_string());
        let bad = |e: String| json_reply(400, &json!({ "message": e }));
        match (method.as_str(), s.as_slice()) {
            ("GET", ["healthz"]) => json_reply(200, &json!({ "status": "ok" })),
            ("GET", []) => json_reply(
                200,
                &json!({
                    "region": self.settings.region, "accountId": self.settings.account_id,
                    "gatewayRoutes": self.store().gateway_route_count(),
                }),
            ),
            ("GET", ["counters"]) => json_reply(200, &self.counters()),
            ("DELETE", ["counters"]) => {
                self.reset_counters();
                json_reply(200, &json!({}))
            }
            ("GET", ["faults"]) => json_reply(200, &json!({ "faults": self.faults().rules() })),
            ("POST", ["faults"]) => match parse(body)
                .and_then(|v| serde_json::from_value::<Fault>(v).map_err(|e| e.to_string()))
                .and_then(|f| self.add_fault(f))
            {
                Ok(()) => json_reply(200, &json!({})),
                Err(e) => bad(e),
            },
            ("DELETE", ["faults"]) => {
                self.clear_faults();
                json_reply(200, &json!({}))
            }
            ("PUT", ["rate-limit"]) => match parse(body)
                .and_then(|v| serde_json::from_value::<RateLimit>(v).map_err(|e| e.to_string()))
                .and_then(|l| self.set_rate_limit(Some(l)))
            {
                Ok(()) => json_reply(200, &json!({})),
                Err(e) => bad(e),
            },
            ("DELETE", ["rate-limit"]) => {
                let _ = self.set_rate_limit(None);
                json_reply(200, &json!({}))
            }
            ("POST", ["reset"]) => {
                self.reset();
                json_reply(200, &json!({}))
            }
            ("PUT", [kind, mesh, name]) if let Some(place) = place(kind, name) => {
                match parse(body).and_then(|v| {
                    v["address"]
                        .as_str()
                        .and_then(|a| a.parse::<SocketAddr>().ok())
                        .ok_or_else(|| "expected {\"address\": \"<ip>:<port>\"}".to_string())
                }) {
                    Ok(address) => {
                        self.set_place(mesh, place, address);
                        json_reply(200, &json!({}))
                    }
                    Err(e) => bad(e),
                }
            }
            ("GET", ["state"]) => json_reply(200, &json!(*self.store())),
            ("PUT", ["state"]) => match parse(body)
                .and_then(|v| serde_json::from_value::<Store>(v).map_err(|e| e.to_string()))
            {
                Ok(store) => {
                    *self.store() = store;
                    json_reply(200, &json!({}))
                }
                Err(e) => bad(e),
            },
            _ => json_reply(
                404,
                &json!({ "message": "unknown admin endpoint; see docs/testing.md" }),
            ),
        }
    }
}

/// One input object from path parameters, query string and JSON body, so one shape validates it.
fn input(params: Vec<(&'static str, String)>, query: &str, body: &[u8]) -> Result<Value, ApiError> {
    let mut map: Map<String, Value> = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice(body) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(ApiError::bad_request(
                    "The request body must be a JSON object.",
                ));
            }
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "The request body is not valid JSON: {e}"
                )));
            }
        }
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (percent_decode(key), percent_decode(value));
        let value = match key.as_str() {
            "limit" => value.parse::<i64>().map(Value::from).map_err(|_| {
                ApiError::bad_request(format!("Value '{value}' at 'limit' must be a number"))
            })?,
            _ => Value::String(value),
        };
        map.insert(key, value);
    }
    for (name, value) in params {
        map.insert(name.to_string(), Value::String(value));
    }
    Ok(Value::Object(map))
}

/// Serves the emulator on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    emulator: Arc<Emulator>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let emulator = emulator.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let emulator = emulator.clone();
                async move { emulator.handle(req).await }
            });
            // An error here is a dropped connection (injected or by the client): nothing to do.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
