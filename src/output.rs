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
            eprintln!("{}", self.clean(text));
        }
    }

    /// Registers a secret with the runner so it is masked in logs (on
    /// stderr, like every command of fleetform's own: stdout holds results
    /// only, and reaches the runner only when nothing captures it).
    /// Each secret once per process: the runner masks it from then on, and
    /// the clients that share a token register it once.
    pub fn mask(&self, secret: &str) {
        if self.github && !secret.is_empty() && first_mask(secret) {
            eprintln!("::add-mask::{}", escape_data(secret));
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
            eprintln!("::group::{}", escape_data(&command_data(title)));
        }
    }

    pub fn group_end(&self) {
        if self.github {
            eprintln!("::endgroup::");
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
        let text = serde_json::to_string_pretty(value)?;
        self.json_text(&text);
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
    pub fn json_error(&self, kind: &str, exit_code: u8, message: &str) {
        #[derive(Serialize)]
        struct Failure<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            kind: &'a str,
            exit_code: u8,
            message: &'a str,
        }
        let _ = self.json(&Failure {
            error: Inner {
                kind,
                exit_code,
                message,
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
            eprintln!("{}", self.clean(text));
        }
    }

    /// A warning without a position: shown even when quiet, and as an
    /// annotation under Actions.
    pub fn warn(&self, text: &str) {
        eprintln!("warning: {}", self.clean(text));
        if self.github {
            eprintln!("::warning::{}", escape_data(&command_data(text)));
        }
    }

    /// An error without a position.
    pub fn error(&self, text: &str) {
        eprintln!("error: {}", self.clean(text));
        if self.github {
            eprintln!("::error::{}", escape_data(&command_data(text)));
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
        eprintln!("{level}: {}", self.clean(&d.to_string()));
        if self.github {
            let msg = match &d.pointer {
                Some(p) if !p.is_empty() => format!("{p}: {}", d.message),
                _ => d.message.clone(),
            };
            eprintln!(
                "::{level} file={},line={},col={}::{}",
                escape_property(&command_data(&d.location.file.display().to_string())),
                d.location.pos.line,
                d.location.pos.col,
                escape_data(&command_data(&msg))
            );
        }
    }

    pub fn diagnostics(&self, ds: &[Diagnostic]) {
        for d in ds {
            self.diagnostic(d);
        }
    }

    /// A progress reporter for `total` steps.
    pub fn progress(&self, total: usize) -> Progress {
        let bar = (!self.quiet && std::io::stderr().is_terminal()).then(|| Bar {
            total,
            done: 0,
            started: std::time::Instant::now(),
            message: String::new(),
        });
        Progress {
            bar: bar.map(Mutex::new),
            quiet: self.quiet,
            github: self.github,
            lock: Mutex::new(()),
        }
    }
}

/// The status line a terminal shows under the finished lines: elapsed
/// time, steps done of all, and what started last. (Drawn here: a
/// progress-bar crate cost ~100 KB of the static binary, over its 10 MB
/// limit, for one line.)
struct Bar {
    total: usize,
    done: usize,
    started: std::time::Instant,
    message: String,
}

impl Bar {
    /// Clears the status line, writes `line` (if any) above it, and draws
    /// it again.
    fn draw(&self, line: Option<&str>) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        if let Some(l) = line {
            let _ = writeln!(err, "{l}");
        }
        let secs = self.started.elapsed().as_secs();
        let _ = write!(
            err,
            "[{:02}:{:02}:{:02}] {}/{} {}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            self.done,
            self.total,
            self.message
        );
        let _ = err.flush();
    }
}

/// Progress on stderr: a status line on a terminal, plain lines otherwise.
pub struct Progress {
    bar: Option<Mutex<Bar>>,
    quiet: bool,
    github: bool,
    lock: Mutex<()>,
}

impl Progress {
    fn clean<'a>(&self, text: &'a str) -> Cow<'a, str> {
        make_safe(text, self.github)
    }

    pub fn started(&self, what: &str) {
        if let Some(bar) = &self.bar {
            let mut b = bar.lock().unwrap_or_else(|p| p.into_inner());
            b.message = sanitize(what).chars().take(80).collect();
            b.draw(None);
        }
    }

    pub fn finished(&self, line: &str) {
        match &self.bar {
            Some(bar) => {
                let mut b = bar.lock().unwrap_or_else(|p| p.into_inner());
                b.done += 1;
                b.draw(Some(&sanitize(line)));
            }
            None if !self.quiet => {
                let _g = self.lock.lock();
                eprintln!("{}", self.clean(line));
            }
            None => {}
        }
    }

    /// A step whose result the table printed after the run shows: on a
    /// terminal only counted on the status line (a line above it would
    /// stand between the command and its table, stderr amid stdout);
    /// elsewhere (CI logs, a pipe) printed as [`Progress::finished`] does.
    pub fn finished_in_table(&self, line: &str) {
        match &self.bar {
            Some(bar) => {
                let mut b = bar.lock().unwrap_or_else(|p| p.into_inner());
                b.done += 1;
                b.draw(None);
            }
            None => self.finished(line),
        }
    }

    pub fn done(&self) {
        if self.bar.is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
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
        std::io::stderr()
            .lock()
            .write_all(make_safe(&text, self.github).as_bytes())?;
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
