//! Progress of the long fleet commands (issue #53): an indicatif bar with
//! counts, rate and time left on a terminal, cleared before the result
//! table; one plain line per plan on a pipe and under GitHub Actions, on
//! stderr only; never both. A terminal is a pseudo-terminal made by
//! `script` (util-linux), stdout and stderr both on it, and what stays on
//! its screen is worked out by [`screen`].

use crate::common::{self, Fixture};

/// The table `plan --all` prints for the fixture's fleet.
const TABLE: &str = "CUSTOMER  ENVIRONMENT  +/~/-     RESULT\n\
                     acme      staging      +3 ~0 -0  changes\n\
                     acme      production   +4 ~0 -0  changes\n\
                     globex    staging      +3 ~0 -0  changes\n\
                     globex    production   +5 ~0 -0  changes\n\
                     initech   staging      -         skipped (revoked 2026-09-30)";

/// The lines of the plans on a pipe or a CI log.
const PLANNED: [&str; 4] = [
    "planned acme/staging: +3 ~0 -0",
    "planned acme/production: +4 ~0 -0",
    "planned globex/staging: +3 ~0 -0",
    "planned globex/production: +5 ~0 -0",
];

/// `fleetform -C manager <args>` in a pseudo-terminal of type `term`:
/// everything it drew, line ends as `\n`.
fn on_a_terminal(fx: &Fixture, term: &str, args: &str) -> String {
    common::Run::from(fx.fleetform())
        .current_dir(fx.root())
        .args(["-C", "manager"])
        .args(args.split_whitespace())
        .on_a_terminal(term)
}

/// What stays on a terminal's screen once `shown` is drawn: text, line
/// feeds, carriage returns, erase in line (`ESC[K`, `ESC[2K`), cursor up
/// (`ESC[nA`) and erase below (`ESC[J`); other control sequences change
/// nothing on the screen. Lines without their trailing blanks, no empty
/// last lines.
fn screen(shown: &str) -> String {
    let mut lines: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col) = (0usize, 0usize);
    let mut chars = shown.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                row += 1;
                col = 0;
                if row == lines.len() {
                    lines.push(Vec::new());
                }
            }
            '\r' => col = 0,
            '\u{1b}' => {
                if chars.next_if_eq(&'[').is_none() {
                    continue;
                }
                let mut param = String::new();
                let mut end = ' ';
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() || d == '~' {
                        end = d;
                        break;
                    }
                    param.push(d);
                }
                match (end, param.as_str()) {
                    ('K', "2") => lines[row].clear(),
                    ('K', "" | "0") => lines[row].truncate(col),
                    ('A', n) => row = row.saturating_sub(n.parse().unwrap_or(1)),
                    ('J', "" | "0") => {
                        lines[row].truncate(col);
                        lines.truncate(row + 1);
                    }
                    _ => {}
                }
            }
            c => {
                let line = &mut lines[row];
                if col < line.len() {
                    line[col] = c;
                } else {
                    line.resize(col, ' ');
                    line.push(c);
                }
                col += 1;
            }
        }
    }
    let mut text: Vec<String> = lines
        .iter()
        .map(|l| l.iter().collect::<String>().trim_end().to_string())
        .collect();
    while text.last().is_some_and(String::is_empty) {
        text.pop();
    }
    text.join("\n")
}

/// A frame of the bar: elapsed time, the bar, steps done of `total`, the
/// rate and the time left.
fn bar_frame(total: usize) -> regex::Regex {
    regex::Regex::new(&format!(
        r"\[\d\d:\d\d:\d\d\] [=> ]+ \d+/{total} \S+/s ETA \S+"
    ))
    .unwrap()
}

#[test]
fn the_screen_is_what_a_terminal_keeps() {
    assert_eq!(screen("a\nbar 1/2\r\u{1b}[2Kb\n"), "a\nb");
    assert_eq!(screen("x\nbar\u{1b}[1A\r\u{1b}[Jy\n"), "y");
    assert_eq!(screen("abc\r\u{1b}[Kd"), "d");
    assert_eq!(screen("\u{1b}[?25lab\u{1b}[?25h"), "ab");
}

/// On a terminal the quick start shows its table and nothing between the
/// command and it: the progress is a bar on stderr (counts, rate, time
/// left), cleared before the table, with no line per plan (the table has
/// them).
#[test]
fn on_a_terminal_progress_is_a_bar_cleared_before_the_table() {
    common::require_terraform();
    let fx = Fixture::new();
    let shown = on_a_terminal(&fx, "xterm", "plan --all");
    assert!(
        bar_frame(4).is_match(&shown),
        "no bar with counts, rate and ETA: not a terminal? {shown:?}"
    );
    assert_eq!(screen(&shown), TABLE, "{shown:?}");
    for line in PLANNED {
        assert!(!shown.contains(line), "{line}: {shown:?}");
    }
}

/// A terminal that cannot move its cursor (`TERM=dumb`) gets the plain
/// lines, as a pipe does: no bar, and the table after them.
#[test]
fn a_dumb_terminal_gets_plain_lines() {
    common::require_terraform();
    let fx = Fixture::new();
    let shown = on_a_terminal(&fx, "dumb", "plan --all --jobs 1");
    assert!(
        !shown.contains('\u{1b}') && !shown.contains("ETA"),
        "{shown:?}"
    );
    let lines: Vec<&str> = shown.lines().collect();
    let (steps, table) = lines.split_at(PLANNED.len());
    assert_eq!(steps, PLANNED, "{shown:?}");
    assert_eq!(table.join("\n"), TABLE, "{shown:?}");
}

/// Piped, each plan is a plain line on stderr; stdout is the table alone;
/// no bar is drawn.
#[test]
fn on_a_pipe_each_plan_is_a_line_on_stderr_and_stdout_is_the_table() {
    common::require_terraform();
    let fx = Fixture::new();
    for actions in [false, true] {
        let mut run = common::run(&fx, &["plan", "--all"]);
        if actions {
            run = run.env("GITHUB_ACTIONS", "true");
        }
        let ran = run.ok();
        assert_eq!(ran.stdout.trim_end(), TABLE, "Actions {actions}");
        for line in PLANNED {
            let at = ran.stderr.lines().filter(|l| *l == line).count();
            assert_eq!(at, 1, "Actions {actions}: {line}: {}", ran.stderr);
        }
        for drawn in ["\u{1b}", "\r", "ETA", "/s "] {
            assert!(
                !ran.stderr.contains(drawn) && !ran.stdout.contains(drawn),
                "Actions {actions}: {drawn:?} drawn: {}",
                ran.stderr
            );
        }
    }
}

/// `render --all` (and sync, offboarding: commands whose notes and tables
/// say each result) count each customer on the bar on a terminal and
/// write nothing more than before elsewhere.
#[test]
fn render_all_counts_customers_on_a_terminal_and_adds_nothing_on_a_pipe() {
    let fx = Fixture::new();
    let shown = on_a_terminal(&fx, "xterm", "render --all --out vars --jobs 1");
    assert!(bar_frame(2).is_match(&shown), "no bar: {shown:?}");
    assert_eq!(
        screen(&shown),
        "rendered 4 of 4 customer × environment pairs to vars (1 revoked customer skipped)",
        "{shown:?}"
    );
    let piped = common::run(&fx, &["render", "--all", "--out", "vars2", "--jobs", "1"]).ok();
    assert_eq!(piped.stdout, "");
    assert_eq!(
        piped.stderr,
        "rendered 4 of 4 customer × environment pairs to vars2 (1 revoked customer skipped)\n"
    );
}
