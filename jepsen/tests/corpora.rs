//! The WGL checker against public histories with known verdicts (see `corpora/README.md`).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use kvorum_jepsen::checker::model::{KvModel, Register};
use kvorum_jepsen::checker::parse;
use kvorum_jepsen::checker::wgl::{check, Verdict, DEFAULT_BUDGET};

fn corpus(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpora")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn expected() -> Vec<(String, bool)> {
    corpus("etcd/EXPECTED.txt")
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(f, v)| (f.to_owned(), v.trim() == "linearizable"))
        .collect()
}

#[test]
fn etcd_logs_get_their_known_verdicts() {
    let cases = expected();
    assert!(cases.len() >= 20, "{} cases", cases.len());
    let mut bad = 0;
    for (file, linearizable) in cases {
        let ops = parse::jepsen_log(&corpus(&format!("etcd/{file}"))).unwrap();
        let verdict = check(&Register::new(), &ops, DEFAULT_BUDGET);
        assert!(
            !matches!(verdict, Verdict::Unknown { .. }),
            "{file}: {verdict:?}"
        );
        assert_eq!(
            verdict.is_linearizable(),
            linearizable,
            "{file}: {verdict:?}"
        );
        bad += usize::from(!linearizable);
    }
    assert!(bad >= 5);
}

fn knossos_dir(dir: &str) -> Vec<String> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpora/knossos")
        .join(dir);
    let mut names: Vec<String> = std::fs::read_dir(full)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".edn"))
        .collect();
    names.sort();
    names
}

#[test]
fn knossos_cas_register_histories_get_their_known_verdicts() {
    for (dir, linearizable) in [("good", true), ("bad", false)] {
        let files = knossos_dir(dir);
        assert!(files.len() >= 5, "{dir}: {files:?}");
        for file in files {
            let ops = parse::knossos_register(&corpus(&format!("knossos/{dir}/{file}"))).unwrap();
            let verdict = check(&Register::new(), &ops, DEFAULT_BUDGET);
            assert!(
                !matches!(verdict, Verdict::Unknown { .. }),
                "{file}: {verdict:?}"
            );
            assert_eq!(
                verdict.is_linearizable(),
                linearizable,
                "{dir}/{file}: {verdict:?}"
            );
        }
    }
}

#[test]
fn porcupine_kv_traces_get_their_known_verdicts_key_by_key() {
    for (file, linearizable) in [
        ("c01-ok.txt", true),
        ("c01-bad.txt", false),
        ("c10-ok.txt", true),
        ("c10-bad.txt", false),
    ] {
        let by_key = parse::porcupine_kv(&corpus(&format!("kv/{file}"))).unwrap();
        assert!(by_key.len() > 1, "{file}: keys are partitioned");
        let all = by_key
            .values()
            .map(|ops| check(&KvModel, ops, DEFAULT_BUDGET))
            .all(|v| {
                assert!(!matches!(v, Verdict::Unknown { .. }), "{file}: {v:?}");
                v.is_linearizable()
            });
        assert_eq!(all, linearizable, "{file}");
    }
}

#[test]
fn a_violation_comes_with_a_witness_naming_the_blocked_operation() {
    // knossos' minimal RethinkDB failure: value is 0, a concurrent write of 4 and a read of 3.
    let ops = parse::knossos_register(&corpus("knossos/bad/rethink-fail-minimal.edn")).unwrap();
    let Verdict::NotLinearizable(witness) = check(&Register::new(), &ops, DEFAULT_BUDGET) else {
        panic!("expected a violation");
    };
    let blocked = ops.iter().find(|o| o.id == witness.blocked).unwrap();
    assert_eq!(
        blocked.output,
        kvorum_jepsen::checker::model::RegisterOutput::Read(Some(3))
    );
}
