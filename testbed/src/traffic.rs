//! Requests through a gateway to the echo backends behind it, as curl sends them (HTTP/1.1, h2c,
//! gRPC), and what each reached: shared by the tests that send traffic and the benchmark's
//! cut-over, which samples both gateways while it runs.

use std::net::SocketAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Http,
    Http2,
    Grpc,
}

impl Proto {
    pub fn listener(self) -> &'static str {
        match self {
            Proto::Http => "http",
            Proto::Http2 => "http2",
            Proto::Grpc => "grpc",
        }
    }
}

/// One request, sent to one listener of the case's gateway.
#[derive(Debug, Clone)]
pub struct Probe {
    pub listener: usize,
    pub method: &'static str,
    /// Path and query.
    pub path: String,
    pub host: String,
    pub headers: Vec<(String, String)>,
}

/// A probe on the first listener.
pub fn get(path: &str) -> Probe {
    Probe {
        listener: 0,
        method: "GET",
        path: path.into(),
        host: "www.example.com".into(),
        headers: vec![],
    }
}

impl Probe {
    pub fn host(mut self, host: &str) -> Probe {
        self.host = host.into();
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Probe {
        self.headers.push((name.into(), value.into()));
        self
    }
    pub fn method(mut self, method: &'static str) -> Probe {
        self.method = method;
        self
    }
    pub fn on(mut self, listener: usize) -> Probe {
        self.listener = listener;
        self
    }
    /// A gRPC call of `service`'s method `Call`.
    pub fn grpc(service: &str) -> Probe {
        get(&format!("/{service}/Call")).method("POST")
    }
}

/// What a request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Reached {
        service: String,
        path: String,
        host: String,
    },
    Status(u16),
    /// A gRPC call no backend answered: the gRPC status its client sees.
    GrpcStatus(u16),
    Failed(String),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Reached {
                service,
                path,
                host,
            } => write!(f, "{service} {path} Host {host}"),
            Outcome::Status(s) => write!(f, "HTTP {s}"),
            Outcome::GrpcStatus(s) => write!(f, "gRPC status {s}"),
            Outcome::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}

/// Sends `probe` with curl to `to`, as HTTP/1.1, h2c or a gRPC call.
pub fn send(to: SocketAddr, proto: Proto, probe: &Probe) -> Outcome {
    let mut args: Vec<String> = ["-sS", "-o", "/dev/null", "-D", "-", "--max-time", "5"]
        .map(String::from)
        .to_vec();
    if proto != Proto::Http {
        args.push("--http2-prior-knowledge".into());
    }
    args.extend(["-X".into(), probe.method.into()]);
    args.extend(["-H".into(), format!("Host: {}", probe.host)]);
    if proto == Proto::Grpc {
        for h in ["content-type: application/grpc", "te: trailers"] {
            args.extend(["-H".into(), h.into()]);
        }
        args.extend(["--data-binary".into(), String::new()]);
    }
    for (name, value) in &probe.headers {
        // `name;` sends a header with an empty value.
        let header = if value.is_empty() {
            format!("{name};")
        } else {
            format!("{name}: {value}")
        };
        args.extend(["-H".into(), header]);
    }
    args.push(format!("http://{to}{}", probe.path));
    let out = std::process::Command::new("curl")
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("curl is needed for this test ({e}); install it (make tools)"));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let header = |name: &str| {
        text.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let status = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok());
    // An echo backend names the virtual service it stands for, or the virtual node (behind a
    // virtual router).
    let echoed = header("x-echo-virtual-service")
        .or_else(|| header("x-echo-virtual-node").map(|node| format!("virtualNode/{node}")));
    match (status, echoed) {
        (Some(_), Some(service)) => Outcome::Reached {
            service,
            path: unreserved_decoded(&header("x-echo-path").unwrap_or_default()),
            host: header("x-echo-host").unwrap_or_default(),
        },
        // A gRPC client reads `grpc-status` (trailers only, as Envoy answers) or, without one,
        // maps the HTTP status (gRPC's doc/http-grpc-status-mapping.md: 404 is 12,
        // UNIMPLEMENTED, the code Envoy sends when no route takes a call).
        (Some(status), None) if proto == Proto::Grpc => Outcome::GrpcStatus(
            header("grpc-status")
                .and_then(|s| s.parse().ok())
                .unwrap_or(match status {
                    400 => 13,
                    401 => 16,
                    403 => 7,
                    404 => 12,
                    429 | 502..=504 => 14,
                    _ => 2,
                }),
        ),
        (Some(status), None) => Outcome::Status(status),
        (None, _) => Outcome::Failed(String::from_utf8_lossy(&out.stderr).trim().to_string()),
    }
}

/// The path with percent-encoded unreserved characters decoded (RFC 3986, 6.2.2.2: `/%7Euser`
/// and `/~user` are the same URI). Traefik decodes them before forwarding and App Mesh's Envoy
/// does not; a backend sees the same resource either way, so the comparison does not count it.
pub fn unreserved_decoded(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| path.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .filter(|b| b.is_ascii_alphanumeric() || b"-._~".contains(b));
        match decoded {
            Some(b) => {
                out.push(char::from(b));
                i += 3;
            }
            None => {
                out.push(char::from(bytes[i]));
                i += 1;
            }
        }
    }
    out
}

/// Sends `GET path` `n` times to `to` on one keep-alive connection (one curl), with `headers`;
/// how many answers each echo backend gave, by the name its `header` says (`-` for an answer
/// without it).
pub fn shares(
    to: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    header: &str,
    n: usize,
) -> std::collections::BTreeMap<String, usize> {
    let url = format!("http://{to}{path}");
    let mut args: Vec<String> = ["-sS", "-o", "/dev/null", "-D", "-", "--max-time", "120"]
        .map(String::from)
        .to_vec();
    for (name, value) in headers {
        args.extend(["-H".into(), format!("{name}: {value}")]);
    }
    args.extend(std::iter::repeat_n(url, n));
    let out = std::process::Command::new("curl")
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("curl is needed for this test ({e}); install it (make tools)"));
    let text = String::from_utf8_lossy(&out.stdout);
    // Each answer's headers start with its status line.
    let mut answers: Vec<Option<String>> = Vec::new();
    for line in text.lines() {
        if line.starts_with("HTTP/") {
            answers.push(None);
        } else if let (Some(last), Some((k, v))) = (answers.last_mut(), line.split_once(':'))
            && k.trim().eq_ignore_ascii_case(header)
        {
            *last = Some(v.trim().to_string());
        }
    }
    let mut counts = std::collections::BTreeMap::new();
    for named in answers {
        *counts
            .entry(named.unwrap_or_else(|| "-".into()))
            .or_insert(0) += 1;
    }
    counts
}
