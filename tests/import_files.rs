//! `meshroute import -f` on golden fixtures, one folder per case under
//! `tests/fixtures/import/<format>/<case>/`: `input/` (the files as a team has them), `args`
//! (extra flags, if any), and the expected output, compared byte for byte: `expected.yaml`
//! (stdout) and `expected.errors` (the files that could not be read, from stderr, with the exit
//! status). No cluster and no App Mesh: the command runs with a kubeconfig that does not exist.
//! `MESHROUTE_BLESS=1 cargo test --test import_files` rewrites the expected files on purpose.

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
    let bless = std::env::var_os("MESHROUTE_BLESS").is_some();
    let mut failures = Vec::new();
    let cases = cases();
    assert!(cases.len() >= 6, "fixtures missing: {cases:?}");
    for case in &cases {
        let outcome = import(case);
        for (file, actual) in [
            ("expected.yaml", &outcome.stdout),
            ("expected.errors", &outcome.errors),
        ] {
            let path = case.join(file);
            if bless {
                std::fs::write(&path, actual).unwrap();
                continue;
            }
            let expected = std::fs::read_to_string(&path).unwrap_or_default();
            if expected != *actual {
                failures.push(format!(
                    "{}: differs from what import printed:\n{actual}\n(MESHROUTE_BLESS=1 rewrites it)",
                    path.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
