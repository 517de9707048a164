//! What `--help` tells a reader who never opened the book.

use crate::common::run_bin;

/// `drift --help` says that drift groups by cause, what a repair is and
/// the exit codes; the short list of commands keeps one line.
#[test]
fn drift_help_says_causes_repairs_and_exit_codes() {
    // Wrapped to the terminal: read as one line.
    let help = run_bin(&["drift", "--help"]).ok().stdout;
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for said in [
        "Drift is grouped by cause across the fleet",
        "`drift.accepted`",
        "A repair puts a drifted pair back to what was last applied",
        "`fleetform repair --from`",
        "4 drift found",
    ] {
        assert!(help.contains(said), "{said}: {help}");
    }
    let list = run_bin(&["--help"]).ok().stdout;
    let line = list
        .lines()
        .find(|l| l.trim_start().starts_with("drift "))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(line.contains("report drift, by cause"), "{line}");
}
