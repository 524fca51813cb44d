//! `meshroute import -f` on golden fixtures, one folder per case under
//! `tests/fixtures/import/<format>/<case>/`: `input/` (the files as a team has them), `args`
//! (extra flags, if any), and the expected output, compared byte for byte: `expected.yaml`
//! (stdout) and `expected.errors` (the files that could not be read, from stderr, with the exit
//! status). No cluster and no App Mesh: the command runs with a kubeconfig that does not exist.
//! `make bless` (`MESHROUTE_BLESS=1`) rewrites the expected files on purpose.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Outcome {
    stdout: String,
    errors: String,
}

fn import(case: &Path) -> Outcome {
    let relative = case.strip_prefix(repo()).unwrap().join("input");
    let mut command = Command::new(env!("CARGO_BIN_EXE_meshroute"));
    command
        .current_dir(repo())
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .args(["import", "-f"])
        .arg(&relative);
    if let Ok(args) = std::fs::read_to_string(case.join("args")) {
        command.args(args.split_whitespace());
    }
    let out = command.output().expect("run meshroute import");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let mut errors: String = stderr
        .lines()
        .filter(|l| l.starts_with("meshroute import: error:") || l.starts_with("meshroute: "))
        .map(|l| format!("{l}\n"))
        .collect();
    errors.push_str(&format!("exit: {}\n", out.status.code().unwrap_or(-1)));
    Outcome {
        stdout: String::from_utf8(out.stdout).unwrap(),
        errors,
    }
}

fn cases() -> Vec<PathBuf> {
    let root = repo().join("tests/fixtures/import");
    let mut cases = Vec::new();
    for format in std::fs::read_dir(&root).unwrap() {
        for case in std::fs::read_dir(format.unwrap().path()).unwrap() {
            cases.push(case.unwrap().path());
        }
    }
    cases.sort();
    cases
}

#[test]
fn every_fixture_imports_as_expected() {
    let mut failures = Vec::new();
    let cases = cases();
    assert!(cases.len() >= 6, "fixtures missing: {cases:?}");
    for case in &cases {
        let outcome = import(case);
        for (file, actual) in [
            ("expected.yaml", &outcome.stdout),
            ("expected.errors", &outcome.errors),
        ] {
            support::golden::check(&case.join(file), actual, &mut failures);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn export(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshroute"))
        .current_dir(repo())
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .args(["export", "gateway-api"])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// One command from a Terraform directory to Gateway API objects: the route imported on the
/// way, its backend found from the virtual node's DNS name and port that Terraform declares.
#[test]
fn export_reads_terraform_directly() {
    let (ok, out, err) = export(
        &["-f", "tests/fixtures/import/terraform/services/input"],
        None,
    );
    assert!(ok, "{err}");
    let objects: Vec<serde_json::Value> = serde_saphyr::from_multiple(&out).unwrap();
    let route = objects
        .iter()
        .find(|o| o["kind"] == "HTTPRoute")
        .unwrap_or_else(|| panic!("{out}"));
    let backend = &route["spec"]["rules"][0]["backendRefs"][0];
    assert_eq!(
        (&backend["name"], &backend["namespace"], &backend["port"]),
        (
            &serde_json::json!("web-v1"),
            &serde_json::json!("shop"),
            &serde_json::json!(8080)
        ),
        "{out}"
    );
}

/// `export -f` reads a GatewayRoute as strictly as `kubectl apply`: a field in the wrong place
/// (`port` inside `virtualService`) is an error naming it, not a route exported with port 80.
#[test]
fn export_refuses_an_unknown_field_by_name() {
    let manifest = r#"
apiVersion: meshroute.io/v1alpha1
kind: GatewayRoute
metadata: {name: web}
spec:
  meshName: apps
  virtualGatewayName: gw
  httpRoute:
    match: {prefix: /}
    action:
      target:
        virtualService: {virtualServiceName: web.shop.svc.cluster.local, port: 8080}
"#;
    let (ok, out, err) = export(&["-f", "-"], Some(manifest));
    assert!(!ok && out.is_empty(), "{out}");
    assert!(
        err.contains("-:2: not a valid GatewayRoute: unknown field `spec.httpRoute.action.target.virtualService.port`"),
        "{err}"
    );
}
