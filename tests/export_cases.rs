//! The mapping's golden cases: each directory under tests/fixtures/export holds GatewayRoutes
//! (`input.yaml`), the flags of the run (`args`, one per line; files they name are in the
//! directory) and what `meshroute export gateway-api` must print for them: the objects on stdout
//! (`output.yaml`) and the findings report (`findings.json`, the `--report json` document),
//! compared byte for byte. Every row of docs/migration.md's mapping table has a case.
//!
//! After a change to the mapping that is meant, `make bless` (`MESHROUTE_BLESS=1`) rewrites
//! every case's expected files from the current binary; review the diff.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

/// What the binary printed for one case, as the case files hold it.
struct Printed {
    output: String,
    findings: String,
}

fn run(case: &Path) -> Result<Printed, String> {
    let args = std::fs::read_to_string(case.join("args")).unwrap_or_default();
    let out = Command::new(env!("CARGO_BIN_EXE_meshroute"))
        .current_dir(case)
        .args([
            "export",
            "gateway-api",
            "-f",
            "input.yaml",
            "--report",
            "json",
        ])
        .args(args.lines().filter(|l| !l.trim().is_empty()))
        .output()
        .map_err(|e| format!("run meshroute: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("exit {}: {stderr}", out.status));
    }
    let report: serde_json::Value = serde_json::from_str(&stderr)
        .map_err(|e| format!("the report is not JSON ({e}): {stderr}"))?;
    Ok(Printed {
        output: String::from_utf8_lossy(&out.stdout).into_owned(),
        findings: serde_json::to_string_pretty(&report).unwrap() + "\n",
    })
}

#[test]
fn every_case_prints_what_it_expects() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("input.yaml").is_file())
        .collect();
    cases.sort();
    // The mapping table's rows, the orders between routes, the Lattice target and the flags.
    assert!(cases.len() >= 60, "only {} cases found", cases.len());
    let mut failed = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let printed = match run(case) {
            Ok(printed) => printed,
            Err(e) => {
                failed.push(format!("{name}: {e}"));
                continue;
            }
        };
        for (file, got) in [
            ("output.yaml", &printed.output),
            ("findings.json", &printed.findings),
        ] {
            support::golden::check(&case.join(file), got, &mut failed);
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases differ (if the change is meant: make bless, then review the diff):\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

/// Output cut short by its reader (`meshroute export gateway-api ... | head`) ends the command
/// quietly by SIGPIPE, as Unix tools do, not with a panic on the write.
#[test]
fn a_reader_that_stops_early_ends_the_command_quietly() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    let dir = std::env::temp_dir().join(format!("meshroute-pipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let items: Vec<serde_json::Value> = (0..2000)
        .map(|i| {
            serde_json::json!({ "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
                "metadata": { "name": format!("r{i}"), "namespace": "shop" },
                "spec": { "meshName": "m", "virtualGatewayName": "g", "httpRoute": {
                    "match": { "prefix": format!("/r{i}/") }, "action": { "target": {
                        "virtualService": { "virtualServiceName": "s" } } } } } })
        })
        .collect();
    let file = dir.join("routes.json");
    std::fs::write(
        &file,
        serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": items }).to_string(),
    )
    .unwrap();
    // The findings report goes to stderr, read after: a file, so that neither pipe fills.
    let errors = dir.join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshroute"))
        .args(["export", "gateway-api", "-f"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&errors).unwrap())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone: the rest (about 2 MB) meets a closed pipe.
    let status = child.wait().unwrap();
    let stderr = std::fs::read_to_string(&errors).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(first, "---\n", "the first line of a YAML stream");
    assert_eq!(status.signal(), Some(13), "{status:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
