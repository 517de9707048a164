//! The one place that prints. Commands return data; this module turns it
//! into tables, JSON, progress and diagnostics (plus GitHub annotations when
//! running under Actions).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use crate::customer::Diagnostic;

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

    /// A note shown only with `--verbose`.
    pub fn verbose(&self, text: &str) {
        if self.verbose > 0 {
            eprintln!("{text}");
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
            println!("::group::{}", escape_data(title));
        }
    }

    pub fn group_end(&self) {
        if self.github {
            println!("::endgroup::");
        }
    }

    /// Tool output passed through as-is (inside a group under Actions),
    /// on stderr so stdout keeps results only.
    pub fn raw(&self, text: &str) {
        if self.github {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(text.as_bytes());
            if !text.ends_with('\n') {
                let _ = o.write_all(b"\n");
            }
        } else if self.verbose > 0 {
            eprint!("{text}");
        }
    }

    /// Writes a line to stdout (results).
    pub fn result(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
    }

    /// Writes a note to stderr unless quiet.
    pub fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    /// An error without a position.
    pub fn error(&self, text: &str) {
        eprintln!("error: {text}");
        if self.github {
            println!("::error::{}", escape_data(text));
        }
    }

    /// A located problem: `error: file:line:col: pointer: message`.
    pub fn diagnostic(&self, d: &Diagnostic) {
        eprintln!("error: {d}");
        if self.github {
            let msg = match &d.pointer {
                Some(p) if !p.is_empty() => format!("{p}: {}", d.message),
                _ => d.message.clone(),
            };
            println!(
                "::error file={},line={},col={}::{}",
                escape_property(&d.location.file.display().to_string()),
                d.location.pos.line,
                d.location.pos.col,
                escape_data(&msg)
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
            lock: Mutex::new(()),
        }
    }
}

/// Progress on stderr: a bar on a terminal, plain lines otherwise.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    quiet: bool,
    lock: Mutex<()>,
}

impl Progress {
    pub fn started(&self, what: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(what.to_string());
        }
    }

    pub fn finished(&self, line: &str) {
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None if !self.quiet => {
                let _g = self.lock.lock();
                eprintln!("{line}");
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
