//! A build without the `fault-injection` feature has no test hooks: `DEBUG` stays in the
//! command table (so `COMMAND` is the same in every build) and answers an error.
#![cfg(not(feature = "fault-injection"))]
#![allow(clippy::unwrap_used)]

mod support;

use support::TestCluster;

#[test]
fn debug_answers_that_this_build_has_no_hooks() {
    let c = TestCluster::start(1, 1);
    let error = "-ERR DEBUG is only available in builds with the fault-injection feature\r\n";
    for args in [
        &["DEBUG", "CLOCK-OFFSET", "1000"][..],
        &["DEBUG", "FAULT", "drop-hints", "ON"],
        &["DEBUG", "FAULTS"],
        &["debug", "sleep", "0"],
    ] {
        assert_eq!(c.command(0, args, None), error, "{args:?}");
    }
    let info = c.command(0, &["COMMAND", "INFO", "debug"], None);
    assert!(info.contains("debug") && info.contains(":-2\r\n"), "{info}");
}
