//! docs/migration.md's cut-over walkthrough (section 4, between `walkthrough:begin` and
//! `walkthrough:end`), run as a user runs it: its shell blocks, in order, in one bash from the
//! repository's root, on a bed of its own (`make testbed-up GATEWAY_API=1`) on free ports. The
//! blocks check themselves (`kubectl wait`, `hack/through.sh`, `test`); the test fails when one
//! fails, and stops what they started even then.

use std::path::PathBuf;
use std::process::Command;

const BEGIN: &str = "<!-- walkthrough:begin -->";
const END: &str = "<!-- walkthrough:end -->";

/// The walkthrough's shell blocks, joined.
fn script() -> String {
    let docs = std::fs::read_to_string(meshroute_testbed::repo_root().join("docs/migration.md"))
        .expect("docs/migration.md");
    let (Some(begin), Some(end)) = (docs.find(BEGIN), docs.find(END)) else {
        panic!("docs/migration.md has no {BEGIN} ... {END} block");
    };
    let mut script = String::new();
    let mut in_block = false;
    for line in docs[begin..end].lines() {
        match (in_block, line.trim_end()) {
            (false, "```sh") => in_block = true,
            (true, "```") => in_block = false,
            (true, line) => {
                script.push_str(line);
                script.push('\n');
            }
            _ => {}
        }
    }
    assert!(!script.is_empty(), "the walkthrough has no ```sh blocks");
    script
}

/// Stops what the walkthrough started, whether or not it got to its own last step.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.0.join("meshroute.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        let _ = Command::new("make")
            .args(["-s", "testbed-down"])
            .env("TESTBED_DIR", &self.0)
            .current_dir(meshroute_testbed::repo_root())
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_cut_over_walkthrough_runs_as_written() {
    let script = script();
    let dir = std::env::temp_dir().join(format!("meshroute-walkthrough-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = Cleanup(dir.clone());
    let ports = meshroute_testbed::free_ports::<3>().unwrap();
    let ports = ports.map(|p| p.to_string()).join(",");
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(meshroute_testbed::repo_root())
        .env("TESTBED_DIR", &dir)
        .env("TESTBED_LISTENER_PORTS", &ports)
        .output()
        .unwrap_or_else(|e| panic!("bash and make are needed for this test: {e}"));
    let log = std::fs::read_to_string(dir.join("meshroute.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(30).collect();
    assert!(
        out.status.success(),
        "the walkthrough failed ({}):\n--- stdout\n{}\n--- stderr\n{}\n--- meshroute.log (last 30 lines, newest first)\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        tail.join("\n")
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Every request the walkthrough sent reached the backend it expected.
    let through = stdout.lines().filter(|l| l.contains(" -> ")).count();
    assert_eq!(through, 8, "{stdout}");
    assert!(stdout.contains("test bed stopped"), "{stdout}");
}
