//! The one place that prints. Commands return data; this module turns it
//! into tables, JSON, progress and diagnostics (plus GitHub annotations when
//! running under Actions).
//!
//! Everything printed here may quote text fleetform did not write: customer
//! keys and values in diagnostics, Terraform's output (which quotes values),
//! API messages, paths. Three rules hold for all of it:
//!
//! - **Terminal safety.** Hidden characters (ANSI/OSC escapes, CR, other
//!   C0/C1 controls, bidirectional controls, zero-width and other invisible
//!   characters: `util::text::is_hidden`) are shown as `\u{..}` escapes
//!   ([`sanitize`]), so customer text cannot move the cursor, rewrite a
//!   line, retitle the terminal, reorder or hide what is shown.
//! - **No workflow commands.** Under GitHub Actions the runner obeys
//!   `::command::` at the start of a line and the legacy `##[command]`
//!   anywhere in one, skipping invisible characters
//!   (`util::runner`). Every line printed gets a backslash before anything
//!   that would make it a command ([`crate::util::runner::neutralise`]), so it is
//!   shown, not obeyed. The only commands the runner sees are the ones
//!   built here (`::error`, `::add-mask::`, `::group::`), whose data is
//!   made safe the same way and escaped as the runner requires. They go to
//!   stderr, which the runner reads too: stdout holds results alone (a
//!   dispatch key is the one exception, masked first on its own stream,
//!   [`Output::secret_result`]).
//!   (Terraform's own log is never printed on the manager: it travels in
//!   the sealed plan bundle.)
//! - **JSON is JSON.** `--json` output ([`Output::json`]) is serialised
//!   JSON, never run through the terminal escapes (`\u{..}` is no JSON
//!   escape): hidden characters and command marks inside its strings
//!   become `\uXXXX` escapes ([`crate::util::runner::safe_json`]), so it parses
//!   to the same value and the runner obeys none of it. Markdown and HTML
//!   documents ([`Output::document`]) are made safe by `report`, which
//!   shows hidden characters already; here only controls are escaped and
//!   commands neutralised.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use serde::Serialize;

use crate::data::Diagnostic;
use crate::util::runner;
use crate::util::text::{is_hidden, show_hidden};
use fleetform_yaml::Location;

static JSON_WRITTEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether `secret` was not masked yet in this process (kept by digest,
/// never as the secret itself).
fn first_mask(secret: &str) -> bool {
    use sha2::Digest as _;
    static MASKED: std::sync::LazyLock<std::sync::Mutex<std::collections::HashSet<[u8; 32]>>> =
        std::sync::LazyLock::new(Default::default);
    let digest: [u8; 32] = sha2::Sha256::digest(secret.as_bytes()).into();
    MASKED.lock().map(|mut m| m.insert(digest)).unwrap_or(true)
}

/// How and where to print.
#[derive(Debug, Clone)]
pub struct Output {
    /// Running under GitHub Actions: repeat errors as `::error` annotations.
    pub github: bool,
    pub quiet: bool,
    pub verbose: u8,
}

impl Output {
    pub fn from_env(quiet: bool, verbose: u8) -> Self {
        Output {
            github: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
            quiet,
            verbose,
        }
    }

    /// Text fleetform did not compose itself, made safe to print: control
    /// characters escaped and, under Actions, no line a workflow command.
    pub fn clean<'a>(&self, text: &'a str) -> Cow<'a, str> {
        make_safe(text, self.github)
    }

    /// A note shown only with `--verbose`.
    pub fn verbose(&self, text: &str) {
        if self.verbose > 0 {
            err_line(&self.clean(text));
        }
    }

    /// Registers a secret with the runner so it is masked in logs (on
    /// stderr, like every command of fleetform's own: stdout holds results
    /// only, and reaches the runner only when nothing captures it).
    /// Each secret once per process: the runner masks it from then on, and
    /// the clients that share a token register it once.
    pub fn mask(&self, secret: &str) {
        if self.github && !secret.is_empty() && first_mask(secret) {
            err_line(&format!("::add-mask::{}", escape_data(secret)));
        }
    }

    /// Writes a secret the user asked for (a dispatch key) to stdout,
    /// registering `masks` with the runner first on the same stream, so
    /// the runner knows them before it reads the line that holds them.
    pub fn secret_result(&self, secret: &str, masks: &[String]) {
        let mut out = std::io::stdout().lock();
        if self.github {
            for m in masks.iter().filter(|m| !m.is_empty()) {
                let _ = writeln!(out, "::add-mask::{}", escape_data(m));
            }
        }
        let _ = writeln!(out, "{}", self.clean(secret));
    }

    /// Opens a collapsible log group under Actions.
    pub fn group_start(&self, title: &str) {
        if self.github {
            err_line(&format!("::group::{}", escape_data(&command_data(title))));
        }
    }

    pub fn group_end(&self) {
        if self.github {
            err_line("::endgroup::");
        }
    }

    /// Writes a line to stdout (results).
    pub fn result(&self, text: &str) {
        print_line(&self.clean(text));
    }

    /// Writes `value` to stdout as pretty JSON (`--json`), made safe by
    /// [`runner::safe_json`]: the same value, no command, no hidden
    /// character outside an escape.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), serde_json::Error> {
        let mut pieces = runner::SafeJsonPieces::default();
        serde_json::to_writer_pretty(&mut pieces, value)?;
        let pieces = pieces.finish().map_err(serde_json::Error::io)?;
        // Nothing is written unless the whole value serialised.
        JSON_WRITTEN.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut out = std::io::stdout().lock();
        for piece in &pieces {
            let _ = out.write_all(piece.as_bytes());
        }
        let _ = out.write_all(b"\n");
        Ok(())
    }

    /// Writes serialised JSON (or one piece of a JSON document streamed in
    /// pieces, each with whole strings) to stdout, made safe like
    /// [`Output::json`].
    pub fn json_text(&self, json: &str) {
        JSON_WRITTEN.store(true, std::sync::atomic::Ordering::Relaxed);
        print_line(&runner::safe_json(json));
    }

    /// Whether any JSON reached stdout in this process.
    pub fn json_written(&self) -> bool {
        JSON_WRITTEN.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A command that was asked for JSON and stopped before writing any
    /// writes its error as one JSON object instead, so every `--json`
    /// output is JSON whatever the exit code.
    pub fn json_error(&self, kind: &str, exit_code: u8, message: &str, help: Option<&str>) {
        #[derive(Serialize)]
        struct Failure<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            kind: &'a str,
            exit_code: u8,
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            help: Option<&'a str>,
        }
        let _ = self.json(&Failure {
            error: Inner {
                kind,
                exit_code,
                message,
                help,
            },
        });
    }

    /// Writes a Markdown or HTML document to stdout. `report` rendered it
    /// with every foreign character escaped for its format and hidden ones
    /// shown (its own zero-width spaces after `@` and in `<!-` stay);
    /// controls are escaped again here and, under Actions, no line is a
    /// command.
    pub fn document(&self, text: &str) {
        let text = escape_chars(text, |c| c.is_control() && c != '\n' && c != '\t');
        if self.github {
            print_line(&runner::neutralise(&text));
        } else {
            print_line(&text);
        }
    }

    /// Writes a note to stderr unless quiet.
    pub fn note(&self, text: &str) {
        if !self.quiet {
            err_line(&self.clean(text));
        }
    }

    /// A warning without a position: shown even when quiet, and as an
    /// annotation under Actions.
    pub fn warn(&self, text: &str) {
        err_line(&format!("warning: {}", self.clean(text)));
        if self.github {
            err_line(&format!("::warning::{}", escape_data(&command_data(text))));
        }
    }

    /// An error without a position.
    pub fn error(&self, text: &str) {
        err_line(&format!("error: {}", self.clean(text)));
        if self.github {
            err_line(&format!("::error::{}", escape_data(&command_data(text))));
        }
    }

    /// The error a command exits with: what, where in a file when there
    /// is a place (`error: file:line:col: what`), and what to do
    /// (`help: …` on its own line). Under Actions, one annotation at the
    /// place with the help in it.
    pub fn failure(&self, what: &str, at: Option<&Location>, help: Option<&str>) {
        match at {
            Some(at) => err_line(&format!("error: {}", self.clean(&format!("{at}: {what}")))),
            None => err_line(&format!("error: {}", self.clean(what))),
        }
        if let Some(help) = help {
            err_line(&format!("help: {}", self.clean(help)));
        }
        if self.github {
            let text = match help {
                Some(help) => format!("{what}\n\nhelp: {help}"),
                None => what.to_string(),
            };
            err_line(&annotation("error", at, &text));
        }
    }

    /// A located problem: `error: file:line:col: pointer: message`.
    pub fn diagnostic(&self, d: &Diagnostic) {
        self.located("error", d);
    }

    /// A located finding that does not fail the run:
    /// `warning: file:line:col: message`.
    pub fn warning(&self, d: &Diagnostic) {
        self.located("warning", d);
    }

    fn located(&self, level: &str, d: &Diagnostic) {
        err_line(&format!("{level}: {}", self.clean(&d.to_string())));
        if self.github {
            let msg = match &d.pointer {
                Some(p) if !p.is_empty() => format!("{p}: {}", d.message),
                _ => d.message.clone(),
            };
            err_line(&annotation(level, Some(&d.location), &msg));
        }
    }

    pub fn diagnostics(&self, ds: &[Diagnostic]) {
        for d in ds {
            self.diagnostic(d);
        }
    }

    /// A progress reporter for `total` steps (see [`ProgressMode`]).
    pub fn progress(&self, total: usize) -> Progress {
        let mode = ProgressMode::choose(self.quiet, self.github, bar_terminal());
        Progress::new(mode, total, self.github)
    }
}

/// A workflow command `::level file=…,line=…,col=…::text` (the place only
/// when there is one), its foreign parts escaped and neutralised.
fn annotation(level: &str, at: Option<&Location>, text: &str) -> String {
    let place = at.map(|at| {
        format!(
            " file={},line={},col={}",
            escape_property(&command_data(&at.file.display().to_string())),
            at.pos.line,
            at.pos.col
        )
    });
    format!(
        "::{level}{}::{}",
        place.unwrap_or_default(),
        escape_data(&command_data(text))
    )
}

/// Whether stderr is a terminal a bar can be drawn on: one whose `TERM`
/// moves the cursor (indicatif draws nothing on a `dumb` one, nor, on
/// Unix, without `TERM`), where plain lines are written instead.
fn bar_terminal() -> bool {
    let term = std::env::var("TERM");
    let dumb = match term.as_deref() {
        Ok(t) => t == "dumb",
        Err(_) => cfg!(unix),
    };
    std::io::stderr().is_terminal() && !dumb
}

/// How a long fleet command shows its progress on stderr, chosen once per
/// run: never a bar and lines both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A terminal: one indicatif bar (elapsed time, a bar, steps done of
    /// all, the rate, the time left, what started last) under the lines
    /// of steps the result table does not show; cleared before the table.
    Bar,
    /// A pipe, a file, a dumb terminal, or GitHub Actions (whose log is
    /// no terminal even when it looks like one): one plain line per
    /// finished step.
    Lines,
    /// `--quiet`: nothing.
    Hidden,
}

impl ProgressMode {
    pub fn choose(quiet: bool, github: bool, terminal: bool) -> ProgressMode {
        match (quiet, github, terminal) {
            (true, _, _) => ProgressMode::Hidden,
            (false, false, true) => ProgressMode::Bar,
            _ => ProgressMode::Lines,
        }
    }
}

/// The bar on screen, if any: every other line fleetform writes to stderr
/// while it is drawn is written with the bar lifted ([`err_line`]), so no
/// line is torn by it.
static ACTIVE_BAR: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);

/// Writes `text` and a line feed to stderr, lifting the progress bar
/// while it does.
fn err_line(text: &str) {
    let write = || {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    };
    match active_bar() {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

fn active_bar() -> Option<indicatif::ProgressBar> {
    ACTIVE_BAR.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Progress on stderr, as its [`ProgressMode`] says.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    lines: bool,
    github: bool,
}

impl Progress {
    fn new(mode: ProgressMode, total: usize, github: bool) -> Progress {
        let bar = (mode == ProgressMode::Bar).then(|| {
            let style = indicatif::ProgressStyle::with_template(
                "[{elapsed_precise}] {bar:24} {pos}/{len} {per_sec} ETA {eta} {wide_msg}",
            )
            .expect("the template is valid")
            .progress_chars("=> ");
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total as u64),
                indicatif::ProgressDrawTarget::stderr(),
            )
            .with_style(style);
            // Elapsed time and ETA move while a long plan runs.
            bar.enable_steady_tick(std::time::Duration::from_millis(500));
            *ACTIVE_BAR.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar.clone());
            bar
        });
        Progress {
            bar,
            lines: mode == ProgressMode::Lines,
            github,
        }
    }

    /// A step started: its name is shown on the bar.
    pub fn started(&self, what: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(sanitize(what).chars().take(80).collect::<String>());
        }
    }

    /// A step finished: `line` above the bar, or as a plain line.
    pub fn finished(&self, line: &str) {
        if let Some(bar) = &self.bar {
            bar.println(sanitize(line));
            bar.inc(1);
        } else if self.lines {
            err_line(&make_safe(line, self.github));
        }
    }

    /// A step whose result the table printed after the run shows: on a
    /// terminal only counted on the bar (a line above it would stand
    /// between the command and its table, stderr amid stdout); elsewhere
    /// (CI logs, a pipe) printed as [`Progress::finished`] does.
    pub fn finished_in_table(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.inc(1),
            None => self.finished(line),
        }
    }

    /// A step of a command that says its results itself (its table, its
    /// notes): counted on the bar, nothing written elsewhere.
    pub fn counted(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// The run is over: the bar is cleared (the table follows).
    pub fn done(&self) {
        if let Some(bar) = self.bar.as_ref().filter(|b| !b.is_finished()) {
            bar.finish_and_clear();
            let mut active = ACTIVE_BAR.lock().unwrap_or_else(|p| p.into_inner());
            *active = None;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done();
    }
}

fn print_line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

/// Hidden characters (`util::text::is_hidden`) except line feed and tab.
fn is_display_control(c: char) -> bool {
    is_hidden(c) && c != '\n' && c != '\t'
}

/// Shows hidden characters as `\u{..}` escapes (`\r` for CR), keeping
/// line feeds and tabs: nothing in the text can act on the terminal or
/// hide from the reader.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    escape_chars(text, is_display_control)
}

fn escape_chars(text: &str, escape: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\r' if escape(c) => out.push_str("\\r"),
            c if escape(c) => out.push_str(&show_hidden(c)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Foreign text inside one of fleetform's own commands: shown safely and
/// no command of its own (before the runner's escaping).
fn command_data(text: &str) -> String {
    runner::neutralise(&sanitize(text)).into_owned()
}

/// Text fleetform did not compose itself, made safe to print: hidden
/// characters escaped and, under Actions, no line a workflow command.
fn make_safe(text: &str, github: bool) -> Cow<'_, str> {
    let text = sanitize(text);
    if !github {
        return text;
    }
    match runner::neutralise(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(o) => Cow::Owned(o),
    }
}

/// A writer for the log (`tracing`) that makes every chunk safe the way
/// [`Output::clean`] does, so a logged field cannot carry a command.
pub struct SafeStderr {
    pub github: bool,
}

impl Write for SafeStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let write = || {
            std::io::stderr()
                .lock()
                .write_all(make_safe(&text, self.github).as_bytes())
        };
        match active_bar() {
            Some(bar) => bar.suspend(write)?,
            None => write()?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Prints a flag-parsing error (or `--help`/`--version`) the way clap
/// would, made safe like everything else: flag values are quoted in it.
pub fn clap_error(e: &clap::Error, github: bool) -> std::process::ExitCode {
    let out = Output {
        github,
        quiet: false,
        verbose: 0,
    };
    let text = e.render().to_string();
    let text = out.clean(&text);
    if e.use_stderr() {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    std::process::ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(crate::error::EXIT_USAGE))
}

/// Escapes the message part of a workflow command.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value of a workflow command.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// A plain text table with left-aligned columns.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn under_actions() -> Output {
        Output {
            github: true,
            quiet: false,
            verbose: 0,
        }
    }

    #[test]
    fn no_line_of_foreign_text_is_a_command() {
        let hostile = [
            "::stop-commands::x",
            "   ::add-mask::oops",
            "\t::error::fake",
            "a\n::warning::b",
            "a\r::set-output name=x::y",
            "a\r\n  ##[error]legacy",
            "x\u{2028}::debug::y",
            "x\u{85}::debug::y",
            "\u{3000}::notice::ideographic space",
            "\u{a0}::notice::nbsp",
            "\u{200b}::error::zero-width space first",
            "S3 said: AccessDenied \u{200b}##[warning]mid-line",
            "GitHub: #\u{2060}#[error]split by a word joiner",
        ];
        for h in hostile {
            let cleaned = under_actions().clean(h);
            assert!(!runner::has_command(&cleaned), "{h:?} -> {cleaned:?}");
            assert!(
                cleaned.ends_with(&h[h.len() - 4..]),
                "the text is still shown: {cleaned:?}"
            );
        }
    }

    #[test]
    fn own_commands_carry_no_foreign_command() {
        let data = command_data("fine ##[warning]x\n::error::y");
        assert!(!runner::has_command(&data), "{data:?}");
        assert_eq!(escape_data(&data), "fine ##\\[warning]x%0A\\::error::y");
    }

    #[test]
    fn harmless_text_is_untouched() {
        for t in ["plain", "a::b", "x\n  y :: z", "", "##not a command"] {
            assert_eq!(under_actions().clean(t), t);
            assert_eq!(sanitize(t), t);
        }
    }

    /// A bar on a terminal only; plain lines on a pipe and under Actions
    /// (even when its log is a terminal); nothing when quiet.
    #[test]
    fn progress_is_a_bar_on_a_terminal_only() {
        use ProgressMode::{Bar, Hidden, Lines};
        let cases = [
            ((false, false, true), Bar),
            ((false, false, false), Lines),
            ((false, true, true), Lines),
            ((false, true, false), Lines),
            ((true, false, true), Hidden),
            ((true, true, false), Hidden),
        ];
        for ((quiet, github, terminal), want) in cases {
            assert_eq!(
                ProgressMode::choose(quiet, github, terminal),
                want,
                "quiet {quiet}, Actions {github}, terminal {terminal}"
            );
        }
        // Without a bar no bar is registered for other lines to lift.
        let p = Progress::new(Lines, 3, false);
        assert!(p.bar.is_none() && active_bar().is_none());
        p.counted();
        p.done();
    }

    #[test]
    fn display_controls_are_escaped() {
        let s = sanitize(
            "a\u{1b}]0;title\u{7}b\u{1b}[2Jc\rd\u{202e}e\tf\ng\u{9b}h\u{200b}i\u{2028}j\u{7f}",
        );
        assert_eq!(
            s,
            "a\\u{1b}]0;title\\u{7}b\\u{1b}[2Jc\\rd\\u{202e}e\tf\ng\\u{9b}h\\u{200b}i\\u{2028}j\\u{7f}"
        );
        assert!(!s.chars().any(is_display_control));
    }
}
