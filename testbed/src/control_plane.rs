//! A real etcd + kube-apiserver on free loopback ports, with RBAC, a static admin token and
//! service-account token signing, the way controller-runtime's envtest runs them.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::Error;
use crate::process::{alive, kill_group, spawn_owned};

/// The admin identity's user name; it is in `system:masters`, so RBAC allows it everything.
pub const ADMIN_USER: &str = "meshroute-admin";
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// A running control plane. Dropping it kills both processes and removes the data directory.
pub struct ControlPlane {
    dir: PathBuf,
    etcd: Mutex<Child>,
    apiserver: Mutex<Child>,
    /// How to start the apiserver again after `stop_apiserver`.
    apiserver_command: (PathBuf, Vec<String>),
    /// `https://127.0.0.1:<port>` of the kube-apiserver.
    pub server: String,
    /// A kubeconfig for the admin identity (`KUBECONFIG=<this>` works with kubectl and helm).
    pub kubeconfig: PathBuf,
    /// How long start-up took, from the first spawn to `/readyz` answering `ok`.
    pub started_in: Duration,
}

impl ControlPlane {
    /// Starts etcd and kube-apiserver from the binaries in `bin` (see [`crate::testbin_dir`]) and
    /// waits until the apiserver is ready. Blocking; it runs its own small async runtime.
    pub fn start(bin: &Path) -> Result<Self, Error> {
        let started = Instant::now();
        let dir = data_dir()?;
        let [etcd_port, peer_port, api_port] = free_ports()?;

        let mut etcd_cmd = Command::new(bin.join("etcd"));
        etcd_cmd
            .args(["--name", "testbed", "--data-dir"])
            .arg(dir.join("etcd"))
            .arg(format!("--listen-client-urls=http://127.0.0.1:{etcd_port}"))
            .arg(format!(
                "--advertise-client-urls=http://127.0.0.1:{etcd_port}"
            ))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"
            ))
            .arg(format!(
                "--initial-cluster=testbed=http://127.0.0.1:{peer_port}"
            ))
            // A throw-away store: no fsync makes start-up and every write much faster.
            .args(["--unsafe-no-fsync", "--log-level=warn"]);
        let etcd = spawn_logged(etcd_cmd, &dir, "etcd")?;

        let pki = dir.join("pki");
        fs::create_dir_all(&pki)?;
        service_account_keys(&pki)?;
        let token = format!(
            "admin-{}-{}",
            std::process::id(),
            started.elapsed().as_nanos()
        );
        fs::write(
            dir.join("tokens.csv"),
            format!("{token},{ADMIN_USER},{ADMIN_USER},system:masters\n"),
        )?;

        let api_args = vec![
            format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
            format!("--secure-port={api_port}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--cert-dir={}", pki.display()),
            format!("--token-auth-file={}", dir.join("tokens.csv").display()),
            "--authorization-mode=RBAC".into(),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            format!(
                "--service-account-key-file={}",
                pki.join("sa.pub").display()
            ),
            format!(
                "--service-account-signing-key-file={}",
                pki.join("sa.key").display()
            ),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            // No kube-controller-manager or nodes run here: skip what only they would use.
            "--endpoint-reconciler-type=none".into(),
            "--profiling=false".into(),
        ];
        let mut api_cmd = Command::new(bin.join("kube-apiserver"));
        api_cmd.args(&api_args);
        let apiserver = spawn_logged(api_cmd, &dir, "kube-apiserver")?;

        let server = format!("https://127.0.0.1:{api_port}");
        let kubeconfig = dir.join("kubeconfig");
        // The apiserver writes its self-signed serving certificate (and the CA that signed it)
        // to --cert-dir on start; the kubeconfig trusts exactly that file.
        fs::write(
            &kubeconfig,
            kubeconfig_text(&server, &pki.join("apiserver.crt"), ADMIN_USER, &token),
        )?;

        let mut plane = ControlPlane {
            dir,
            etcd: Mutex::new(etcd),
            apiserver: Mutex::new(apiserver),
            apiserver_command: (bin.join("kube-apiserver"), api_args),
            server,
            kubeconfig,
            started_in: Duration::ZERO,
        };
        plane.wait_ready()?;
        plane.started_in = started.elapsed();
        Ok(plane)
    }

    /// Writes a kubeconfig at `path` for this control plane that authenticates with `token`
    /// (a service account's, from a TokenRequest), for running a process as that identity.
    pub fn write_kubeconfig(&self, path: &Path, user: &str, token: &str) -> Result<(), Error> {
        let ca = self.dir.join("pki/apiserver.crt");
        fs::write(path, kubeconfig_text(&self.server, &ca, user, token))?;
        Ok(())
    }

    /// The directory holding the data, logs (`etcd.log`, `kube-apiserver.log`) and kubeconfig.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A client for the admin identity. Make one per async runtime: a kube client's background
    /// task belongs to the runtime it was made on.
    pub async fn client(&self) -> Result<kube::Client, Error> {
        Ok(kube::Client::try_from(self.config().await?)?)
    }

    /// A client that authenticates with `token` (a service account's, from a TokenRequest)
    /// instead of the admin identity, for RBAC tests.
    pub async fn client_as(&self, token: String) -> Result<kube::Client, Error> {
        let mut config = self.config().await?;
        config.auth_info = kube::config::AuthInfo {
            token: Some(token.into()),
            ..Default::default()
        };
        Ok(kube::Client::try_from(config)?)
    }

    /// The admin identity's client configuration.
    pub async fn config(&self) -> Result<kube::Config, Error> {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)?;
        Ok(kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?)
    }

    /// Kills the kube-apiserver, as in an apiserver outage; etcd and its data stay.
    pub fn stop_apiserver(&self) {
        kill_group(&mut lock(&self.apiserver));
    }

    /// Starts the kube-apiserver again, on the same port with the same certificates and
    /// tokens, and waits until it is ready. Blocking.
    pub fn start_apiserver(&self) -> Result<(), Error> {
        let (program, args) = &self.apiserver_command;
        let mut cmd = Command::new(program);
        cmd.args(args);
        *lock(&self.apiserver) = spawn_logged(cmd, &self.dir, "kube-apiserver")?;
        self.wait_ready()
    }

    fn wait_ready(&self) -> Result<(), Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last = String::from("no answer yet");
        while Instant::now() < deadline {
            for (name, child) in [("etcd", &self.etcd), ("kube-apiserver", &self.apiserver)] {
                if let Some(status) = lock(child).try_wait()? {
                    return Err(Error::Exited {
                        name,
                        status: status.to_string(),
                        log: self.dir.join(format!("{name}.log")),
                    });
                }
            }
            // The serving certificate appears only once the apiserver is up far enough to serve.
            if self.dir.join("pki/apiserver.crt").exists() {
                match runtime.block_on(self.readyz()) {
                    Ok(()) => return Ok(()),
                    Err(e) => last = e.to_string(),
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(Error::NotReady {
            after: READY_TIMEOUT,
            last,
            log: self.dir.join("kube-apiserver.log"),
        })
    }

    async fn readyz(&self) -> Result<(), Error> {
        let client = self.client().await?;
        let request = http::Request::get("/readyz")
            .body(Vec::new())
            .map_err(|e| Error::Io(std::io::Error::other(e)))?;
        let body = client.request_text(request).await?;
        if body.trim() == "ok" {
            Ok(())
        } else {
            Err(Error::Io(std::io::Error::other(format!(
                "/readyz said {body}"
            ))))
        }
    }
}

fn lock(child: &Mutex<Child>) -> std::sync::MutexGuard<'_, Child> {
    child.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        kill_group(&mut lock(&self.apiserver));
        kill_group(&mut lock(&self.etcd));
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A kubeconfig that trusts the apiserver's own certificate and sends `token`.
fn kubeconfig_text(server: &str, ca: &Path, user: &str, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: testbed\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: {user}\n  user:\n    token: {token}\ncontexts:\n- name: testbed\n  context:\n    cluster: testbed\n    user: {user}\n    namespace: default\ncurrent-context: testbed\n",
        ca = ca.display()
    )
}

/// A fresh directory under the system temp dir, named after this process so that a later run can
/// remove what a killed run left behind.
fn data_dir() -> Result<PathBuf, Error> {
    let tmp = std::env::temp_dir();
    if let Ok(entries) = fs::read_dir(&tmp) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(rest) = name
                .to_str()
                .and_then(|n| n.strip_prefix("meshroute-testbed-"))
            else {
                continue;
            };
            let owner = rest.split('-').next().and_then(|p| p.parse::<i32>().ok());
            if owner.is_some_and(|pid| !alive(pid)) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    for n in 0.. {
        let dir = tmp.join(format!("meshroute-testbed-{}-{n}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e.into()),
        }
    }
    unreachable!("an unbounded range always yields")
}

/// Distinct free loopback ports. They are released before the servers bind them, so another
/// process could take one in between; on loopback in a test run that is rare and fails loudly.
pub fn free_ports<const N: usize>() -> Result<[u16; N], Error> {
    let listeners = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener.local_addr()?.port();
    }
    Ok(ports)
}

fn spawn_logged(mut cmd: Command, dir: &Path, name: &'static str) -> Result<Child, Error> {
    let log = fs::File::create(dir.join(format!("{name}.log")))?;
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    spawn_owned(cmd).map_err(|source| Error::Spawn { name, source })
}

/// An EC key pair for signing service-account tokens (TokenRequest works without a controller
/// manager because the apiserver signs tokens itself).
fn service_account_keys(pki: &Path) -> Result<(), Error> {
    let key = pki.join("sa.key");
    let run = |args: &[&str]| -> Result<(), Error> {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .map_err(|source| Error::Spawn {
                name: "openssl",
                source,
            })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::Io(std::io::Error::other(format!(
                "openssl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ))))
        }
    };
    let key_path = key.to_string_lossy();
    let pub_path = pki.join("sa.pub");
    run(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        &key_path,
    ])?;
    run(&[
        "ec",
        "-in",
        &key_path,
        "-pubout",
        "-out",
        &pub_path.to_string_lossy(),
    ])
}
