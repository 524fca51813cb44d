//! How many App Mesh calls per second the emulator answers on loopback, so benchmarks can show
//! it is never their bottleneck. Raw HTTP/1.1 keep-alive connections, no SDK overhead:
//!
//!   cargo run --release -p appmesh-emulator --example throughput -- [connections] [seconds]

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn call(stream: &mut TcpStream, buf: &mut Vec<u8>, request: &[u8]) -> std::io::Result<u16> {
    stream.write_all(request).await?;
    buf.clear();
    loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>())
                })
                .and_then(Result::ok)
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return Ok(text[9..12].parse().unwrap_or(0));
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let connections: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(16);
    let seconds: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);

    let handle = appmesh_emulator::spawn(
        appmesh_emulator::Settings {
            max_gateway_routes_per_gateway: usize::MAX,
            ..Default::default()
        },
        0,
    )?;
    let em = &handle.emulator;
    em.invoke("CreateMesh", &json!({ "meshName": "apps" }))?;
    em.invoke(
        "CreateVirtualGateway",
        &json!({ "meshName": "apps", "virtualGatewayName": "gw",
        "spec": { "listeners": [{ "portMapping": { "port": 8080, "protocol": "http" } }] } }),
    )?;
    em.invoke(
        "CreateVirtualService",
        &json!({ "meshName": "apps", "virtualServiceName": "svc", "spec": {} }),
    )?;

    let addr = handle.addr;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|w| {
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                let mut buf = Vec::new();
                let (mut calls, mut i) = (0u64, 0u64);
                while Instant::now() < deadline {
                    // One create, then describes of it: the operator's mix is read-heavy.
                    let name = format!("w{w}-r{i}");
                    let body = json!({ "gatewayRouteName": name, "clientToken": format!("t-{w}-{i}"),
                        "spec": { "httpRoute": { "match": { "prefix": "/" },
                            "action": { "target": { "virtualService": { "virtualServiceName": "svc" } } } } } })
                    .to_string();
                    let create = format!("PUT /v20190125/meshes/apps/virtualGateway/gw/gatewayRoutes HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
                    assert_eq!(call(&mut stream, &mut buf, create.as_bytes()).await?, 200);
                    let describe = format!("GET /v20190125/meshes/apps/virtualGateway/gw/gatewayRoutes/{name} HTTP/1.1\r\nhost: x\r\n\r\n");
                    for _ in 0..3 {
                        assert_eq!(call(&mut stream, &mut buf, describe.as_bytes()).await?, 200);
                    }
                    calls += 4;
                    i += 1;
                }
                Ok::<u64, std::io::Error>(calls)
            })
        })
        .collect();
    let mut total = 0;
    for w in workers {
        total += w.await??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "{total} calls in {elapsed:.1} s over {connections} connections: {:.0} calls/s (1 create : 3 describes)",
        total as f64 / elapsed
    );
    Ok(())
}
