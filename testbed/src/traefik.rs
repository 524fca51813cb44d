//! Traefik (built by `hack/testbin.sh traefik`, see `hack/tools/traefik`) as the test bed's
//! Gateway API implementation: its Kubernetes Gateway provider watches the test apiserver and
//! serves the Gateways of one GatewayClass on loopback entry points.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::process::{kill_group, spawn_owned};
use crate::{Error, testbin_tool};

/// The controller name Traefik's Gateway provider answers for.
pub const TRAEFIK_CONTROLLER: &str = "traefik.io/gateway-controller";

/// A running Traefik, killed (with its process group) when dropped.
pub struct Traefik {
    child: Child,
    /// Its log (Traefik's own, at INFO).
    pub log: PathBuf,
}

impl Traefik {
    /// Starts Traefik against the apiserver of `kubeconfig`, with an entry point on
    /// `127.0.0.1:<port>` for each of `ports` (a Gateway listener is served by the entry point
    /// whose port it names), and waits until its ping answers.
    pub fn start(kubeconfig: &Path, ports: &[u16], dir: &Path) -> Result<Traefik, Error> {
        let bin = testbin_tool("traefik")?;
        let [ping] = crate::free_ports::<1>()?;
        let log = dir.join(format!("traefik-{ping}.log"));
        let mut cmd = Command::new(bin);
        cmd.env("KUBECONFIG", kubeconfig)
            .arg("--log.level=INFO")
            .arg("--global.checknewversion=false")
            .arg("--global.sendanonymoususage=false")
            .arg("--providers.kubernetesgateway=true")
            // Gateway addresses in status: where its entry points listen.
            .arg("--providers.kubernetesgateway.statusaddress.ip=127.0.0.1")
            .arg("--ping=true")
            .arg("--ping.entrypoint=ping")
            .arg(format!("--entrypoints.ping.address=127.0.0.1:{ping}"));
        for port in ports {
            cmd.arg(format!("--entrypoints.p{port}.address=127.0.0.1:{port}"));
        }
        let file = std::fs::File::create(&log)?;
        cmd.stdin(std::process::Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        let child = spawn_owned(cmd).map_err(|source| Error::Spawn {
            name: "traefik",
            source,
        })?;
        let mut traefik = Traefik { child, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = traefik.child.try_wait()? {
                return Err(Error::Exited {
                    name: "traefik",
                    status: status.to_string(),
                    log: traefik.log.clone(),
                });
            }
            if pinged(ping) {
                return Ok(traefik);
            }
            if Instant::now() > deadline {
                return Err(Error::NotReady {
                    after: Duration::from_secs(30),
                    last: "no answer on /ping".into(),
                    log: traefik.log.clone(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Traefik {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

fn pinged(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let request = "GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let mut answer = String::new();
    s.write_all(request.as_bytes()).is_ok()
        && s.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

/// A non-loopback IPv4 address of this host, where backends Traefik reaches must listen: the
/// apiserver refuses loopback addresses in EndpointSlices. Read from `hostname -I`.
pub fn host_address() -> Result<IpAddr, Error> {
    let out = Command::new("hostname")
        .arg("-I")
        .output()
        .map_err(|source| Error::Spawn {
            name: "hostname",
            source,
        })?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|a| a.parse::<IpAddr>().ok())
        .find(|a| a.is_ipv4() && !a.is_loopback())
        .ok_or_else(|| {
            Error::Io(std::io::Error::other(
                "this host has no non-loopback IPv4 address (hostname -I); the apiserver refuses \
                 loopback addresses in EndpointSlices, so Traefik's backends cannot be reached",
            ))
        })
}
