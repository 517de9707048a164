//! The one place that prints. Commands return data; this module turns it
//! into tables, JSON, progress and diagnostics (plus GitHub annotations when
//! running under Actions).
//!
//! Everything printed here may quote text fleetform did not write: customer
//! keys and values in diagnostics, Terraform's output (which quotes values),
//! API messages, paths. Two rules hold for all of it:
//!
//! - **Terminal safety.** Control characters (ANSI/OSC escapes, CR, other
//!   C0/C1 controls) and bidirectional overrides are shown as `\u{..}`
//!   escapes ([`sanitize`]), so customer text cannot move the cursor,
//!   rewrite a line, retitle the terminal or reorder what is shown.
//! - **No workflow commands.** Under GitHub Actions the runner obeys
//!   `::command::` (and the legacy `##[command]`) on every line of stdout
//!   and stderr after leading whitespace. Every line of text fleetform did
//!   not compose itself that would read as a command gets a zero-width
//!   space in front ([`neutralise_commands`]). The only commands the runner
//!   sees are the ones built here (`::error`, `::add-mask::`, `::group::`),
//!   whose data is escaped. (Terraform's own log is never printed on the
//!   manager: it travels in the sealed plan bundle.)

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use crate::values::customer::Diagnostic;

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

    /// Registers a secret with the runner so it is masked in logs.
    pub fn mask(&self, secret: &str) {
        if self.github && !secret.is_empty() {
            println!("::add-mask::{}", escape_data(secret));
        }
    }

    /// Opens a collapsible log group under Actions.
    pub fn group_start(&self, title: &str) {
        if self.github {
            println!("::group::{}", escape_data(&sanitize(title)));
        }
    }

    pub fn group_end(&self) {
        if self.github {
            println!("::endgroup::");
        }
    }

    /// Writes a line to stdout (results).
    pub fn result(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", self.clean(text));
    }

    /// Writes a note to stderr unless quiet.
    pub fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("{}", self.clean(text));
        }
    }

    /// An error without a position.
    pub fn error(&self, text: &str) {
        eprintln!("error: {}", self.clean(text));
        if self.github {
            println!("::error::{}", escape_data(&sanitize(text)));
        }
    }

    /// A located problem: `error: file:line:col: pointer: message`.
    pub fn diagnostic(&self, d: &Diagnostic) {
        eprintln!("error: {}", self.clean(&d.to_string()));
        if self.github {
            let msg = match &d.pointer {
                Some(p) if !p.is_empty() => format!("{p}: {}", d.message),
                _ => d.message.clone(),
            };
            println!(
                "::error file={},line={},col={}::{}",
                escape_property(&sanitize(&d.location.file.display().to_string())),
                d.location.pos.line,
                d.location.pos.col,
                escape_data(&sanitize(&msg))
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
        let bar = (!self.quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
                )
                .expect("valid template"),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            quiet: self.quiet,
            github: self.github,
            lock: Mutex::new(()),
        }
    }
}

/// Progress on stderr: a bar on a terminal, plain lines otherwise.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
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
            bar.set_message(sanitize(what).into_owned());
        }
    }

    pub fn finished(&self, line: &str) {
        match &self.bar {
            Some(bar) => {
                bar.println(sanitize(line));
                bar.inc(1);
            }
            None if !self.quiet => {
                let _g = self.lock.lock();
                eprintln!("{}", self.clean(line));
            }
            None => {}
        }
    }

    pub fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Characters that change how text is shown rather than what it says: C0
/// and C1 controls (ESC starts ANSI/OSC sequences, CR rewrites the line)
/// except line feed and tab, and bidirectional overrides and isolates.
fn is_display_control(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// Shows display controls as `\u{..}` escapes (`\r` for CR), keeping line
/// feeds and tabs: nothing in the text can act on the terminal.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_display_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            c if is_display_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Line breaks as the runner splits lines (CR, LF, and the Unicode ones).
fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// True when a line would be read as a workflow command: after leading
/// whitespace it starts with `::` or `##[`.
pub fn is_command_line(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("::") || t.starts_with("##[")
}

/// Puts a zero-width space before every line that the runner would read as
/// a workflow command, so it is shown, not obeyed. (The runner trims
/// whitespace, and U+200B is not whitespace, so the line no longer starts
/// with `::`.)
pub fn neutralise_commands(text: &str) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut start = 0;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), '\n')))
    {
        if !is_line_break(c) {
            continue;
        }
        let line = &text[start..i];
        if is_command_line(line) {
            let o = out.get_or_insert_with(|| text[..start].to_string());
            let ws = line.len() - line.trim_start().len();
            o.push_str(&line[..ws]);
            o.push('\u{200B}');
            o.push_str(&line[ws..]);
        } else if let Some(o) = out.as_mut() {
            o.push_str(line);
        }
        if let Some(o) = out.as_mut() {
            if i < text.len() {
                o.push(c);
            }
        }
        start = i + c.len_utf8();
    }
    match out {
        Some(o) => Cow::Owned(o),
        None => Cow::Borrowed(text),
    }
}

/// Text fleetform did not compose itself, made safe to print: display
/// controls escaped and, under Actions, no line a workflow command.
fn make_safe(text: &str, github: bool) -> Cow<'_, str> {
    let text = sanitize(text);
    if !github {
        return text;
    }
    match neutralise_commands(&text) {
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

    fn commands_in(text: &str) -> Vec<&str> {
        text.split(is_line_break)
            .filter(|l| is_command_line(l))
            .collect()
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
        ];
        for h in hostile {
            let out = Output {
                github: true,
                quiet: false,
                verbose: 0,
            };
            let cleaned = out.clean(h);
            assert!(commands_in(&cleaned).is_empty(), "{h:?} -> {cleaned:?}");
            assert!(
                cleaned.contains("::") || cleaned.contains("##["),
                "the text is still shown: {cleaned:?}"
            );
        }
    }

    #[test]
    fn harmless_text_is_untouched() {
        for t in ["plain", "a::b", "x\n  y :: z", "", "##not a command"] {
            assert_eq!(neutralise_commands(t), t);
            assert_eq!(sanitize(t), t);
        }
    }

    #[test]
    fn display_controls_are_escaped() {
        let s = sanitize("a\u{1b}]0;title\u{7}b\u{1b}[2Jc\rd\u{202e}e\tf\ng\u{9b}h");
        assert_eq!(
            s,
            "a\\u{1b}]0;title\\u{7}b\\u{1b}[2Jc\\rd\\u{202e}e\tf\ng\\u{9b}h"
        );
        assert!(!s.chars().any(is_display_control));
    }
}
