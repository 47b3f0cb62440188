//! `kvorum-jepsen crash` end to end: real `kvorum` nodes on loopback get SIGKILL mid-write and
//! every acknowledged write must be readable after the restart.
//!
//! Needs the debug `kvorum` binary (`cargo build -p kvorum-node`), found next to the test's own
//! target folder (`target/debug/kvorum`) unless `KVORUM_BIN` names another. Without it the tests
//! fail, saying so: a crash test that cannot start a node proves nothing and must not pass.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// One run at a time: two clusters fsyncing on two shared cores would make timing the test.
static ONE_RUN_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The `kvorum` binary: `KVORUM_BIN`, else `target/<profile>/kvorum` (this test runs from
/// `target/<profile>/deps/`).
fn kvorum() -> PathBuf {
    let path = match std::env::var_os("KVORUM_BIN") {
        Some(path) => PathBuf::from(path),
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent()?.parent().map(|dir| dir.join("kvorum")))
            .unwrap_or_else(|| PathBuf::from("kvorum")),
    };
    assert!(
        path.is_file(),
        "no kvorum binary at {}: build it first with `cargo build -p kvorum-node` (same \
         CARGO_TARGET_DIR), or set KVORUM_BIN",
        path.display()
    );
    path
}

/// Runs `kvorum-jepsen crash` with `args` and the built node binary; returns its exit status
/// and its output.
fn crash(args: &[&str]) -> (bool, String) {
    let kvorum = kvorum();
    let mut all = vec!["crash"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--kvorum", kvorum.to_str().unwrap()]);
    run(&all)
}

/// Runs `kvorum-jepsen` with exactly `args`, one run at a time.
fn run(args: &[&str]) -> (bool, String) {
    let _turn = ONE_RUN_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let output = Command::new(env!("CARGO_BIN_EXE_kvorum-jepsen"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Every case line says PASS and checked at least one acknowledged write.
fn assert_all_passed(text: &str, kills: usize) {
    let cases: Vec<&str> = text.lines().filter(|l| l.starts_with("kill ")).collect();
    assert_eq!(cases.len(), kills, "one line per kill:\n{text}");
    for line in cases {
        assert!(line.ends_with("— PASS"), "{line}\n{text}");
        assert!(line.contains(", 0 lost, 0 corrupt"), "{line}");
        let checked: usize = line
            .split(": ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(checked > 0, "the case checked no write: {line}");
    }
    assert!(
        text.contains(&format!("{kills} passed, 0 failed")),
        "{text}"
    );
}

#[test]
fn acknowledged_writes_survive_kill_9_of_a_single_node() {
    let (ok, text) = crash(&["--kills", "3", "--nodes", "1", "--seed", "11"]);
    assert!(ok, "non-zero exit:\n{text}");
    assert_all_passed(&text, 3);
}

#[test]
fn acknowledged_writes_survive_kill_9_in_a_three_node_cluster() {
    let (ok, text) = crash(&["--kills", "2", "--nodes", "3", "--seed", "12"]);
    assert!(ok, "non-zero exit:\n{text}");
    assert_all_passed(&text, 2);
}

#[test]
fn a_missing_node_binary_fails_the_run() {
    let (ok, text) = run(&["crash", "--kills", "1", "--kvorum", "no-such-dir/kvorum"]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("no kvorum binary at no-such-dir/kvorum"),
        "{text}"
    );
    assert!(text.contains("0 passed, 1 failed"), "{text}");
}
