//! Node logs: a panic anywhere fails the run, whatever the other checkers say.

use serde::Serialize;

/// Lines of one node's log that show a crash.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LogFindings {
    pub source: String,
    /// The first few lines that report a panic.
    pub panics: Vec<String>,
    /// How many lines were logged at ERROR level (reported, not judged: a node logs errors when
    /// its peers disappear, which is what a nemesis does).
    pub errors: usize,
}

/// How many panic lines a finding keeps.
const KEEP: usize = 5;

pub fn scan(source: &str, log: &str) -> LogFindings {
    let mut found = LogFindings {
        source: source.to_owned(),
        ..LogFindings::default()
    };
    for line in log.lines() {
        if line.contains("panicked at") || line.contains("stack backtrace:") {
            if found.panics.len() < KEEP {
                found.panics.push(line.chars().take(300).collect());
            }
        } else if line.contains(" ERROR ") {
            found.errors += 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_are_found_and_errors_counted() {
        let log = "2026 INFO started\nthread 'tokio-runtime-worker' panicked at node/src/x.rs:1:2:\n2026 ERROR peer lost\n";
        let f = scan("n1", log);
        assert_eq!(f.panics.len(), 1);
        assert_eq!(f.errors, 1);
        assert!(scan("n2", "all fine\n").panics.is_empty());
    }
}
