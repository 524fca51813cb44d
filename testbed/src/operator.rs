//! The meshroute binary as a separate process against the test bed: for integration tests and
//! benchmarks. It talks to the given App Mesh endpoint only and never looks for AWS credentials or
//! regions outside this machine.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::process::{kill_group, spawn_owned};

/// A running operator; killed when dropped, whatever the caller's outcome.
pub struct Operator {
    child: Child,
    log: PathBuf,
}

impl Operator {
    /// Starts `binary run` with `kubeconfig`, App Mesh at `endpoint`, watching `label_selector`,
    /// serving HTTP on a free loopback port, logging JSON to `log`; `extra` flags come last.
    pub fn start(
        binary: &Path,
        kubeconfig: &Path,
        endpoint: &str,
        label_selector: &str,
        extra: &[&str],
        log: PathBuf,
    ) -> std::io::Result<Operator> {
        let file = std::fs::File::create(&log)?;
        let mut cmd = Command::new(binary);
        cmd.arg("run")
            .args(["--appmesh-endpoint", endpoint])
            .args(["--label-selector", label_selector])
            .args(["--http-addr", "127.0.0.1:0", "--log-format", "json"])
            .args(extra)
            .env("KUBECONFIG", kubeconfig)
            .envs(crate::AWS_TEST_ENV)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info,meshroute=debug");
        }
        let child = spawn_owned(cmd)?;
        Ok(Operator { child, log })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, as Kubernetes sends on pod deletion, then waits up to `grace` for the exit status
    /// (`None` if it did not exit in time).
    pub async fn terminate(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: plain syscall on our own child.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        self.exit_within(grace).await
    }

    /// Waits up to `grace` for the operator to exit by itself; its exit status, or `None`.
    pub async fn exit_within(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + grace;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// SIGKILL: no graceful shutdown, as in a node crash.
    pub fn kill(&mut self) {
        kill_group(&mut self.child);
    }

    /// Everything the operator has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// The address of /healthz, /readyz and /metrics, from the operator's start-up log line.
    pub async fn http_addr(&self) -> String {
        for _ in 0..200 {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(addr) = text
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .find_map(|l| l["address"].as_str().map(str::to_string))
            {
                return addr;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the operator never said where it serves:\n{}",
            self.log_tail()
        );
    }

    /// GET `path` from the operator's HTTP endpoint: (status code, body).
    pub async fn get(&self, path: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.http_addr().await)
            .await
            .expect("connect to the operator");
        let request =
            format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        let code = response
            .get(9..12)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (code, body)
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}
