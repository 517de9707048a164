//! The answers of an issue written from a change form, read back from the
//! issue's body as GitHub writes it: each element's label as a `### `
//! heading, then its answer (`_No response_` when left empty; a YAML
//! text area's answer in a ```` ```yaml ```` fence; ticked boxes as
//! `- [X] option`). The body is the issue author's text, whatever the form
//! said: every answer is read strictly by its field's kind, a heading the
//! form does not have (or has once) is refused, and nothing of the answer
//! is ever repeated in a message.

use std::path::Path;

use serde_json::Value;

use super::fields::{flow, Field, Kind};

/// GitHub's limit on an issue body, in characters (FACTS, "Matrix ≤ 256
/// jobs; comments and issue bodies ≤ 65,536 chars").
pub const MAX_BODY_CHARS: usize = 65_536;
/// What GitHub writes for a field left empty.
pub const NO_RESPONSE: &str = "_No response_";
/// The option ticked to set a flag to `true` (or `false`).
pub const FLAG_TRUE: &str = "Set to true";
pub const FLAG_FALSE: &str = "Set to false";
/// The longest one-line answer taken (a schema's own `maxLength` is
/// checked afterwards, with the rest of the file).
const MAX_LINE_CHARS: usize = 4_096;

/// One answer that changes the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub path: Vec<String>,
    pub value: Value,
}

/// Why an answer could not be read: the field and the line of the body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line} of the issue (`{label}`): {problem}")]
pub struct AnswerError {
    pub label: String,
    pub line: usize,
    pub problem: String,
}

/// The answers that change something, in the form's order; every answer
/// that cannot be read, each with its line.
pub fn read(body: &str, fields: &[Field]) -> Result<Vec<Answer>, Vec<AnswerError>> {
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(vec![AnswerError {
            label: "(the whole issue)".into(),
            line: 1,
            problem: format!(
                "longer than GitHub's {MAX_BODY_CHARS} characters; open a new issue from the form"
            ),
        }]);
    }
    let body = body.replace("\r\n", "\n");
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut found: Vec<(usize, Answer)> = Vec::new();
    for section in sections(&body) {
        let err = |problem: String| AnswerError {
            label: crate::util::text::shown(section.label),
            line: section.line,
            problem,
        };
        let Some((index, field)) = fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.label == section.label)
        else {
            errors.push(err(
                "not a field of this form; open a new issue from the form".into(),
            ));
            continue;
        };
        if !seen.insert(index) {
            errors.push(err(
                "answered twice; keep one answer under each heading".into()
            ));
            continue;
        }
        match answer(field, section.text) {
            Ok(Some(value)) => found.push((
                index,
                Answer {
                    path: field.path.clone(),
                    value,
                },
            )),
            Ok(None) => {}
            Err(problem) => errors.push(err(problem)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    found.sort_by_key(|(i, _)| *i);
    Ok(found.into_iter().map(|(_, a)| a).collect())
}

struct Section<'a> {
    label: &'a str,
    /// The heading's line, 1-based.
    line: usize,
    text: String,
}

/// The body cut at each `### ` heading outside a code fence; text before
/// the first heading is not an answer.
fn sections(body: &str) -> Vec<Section<'_>> {
    let mut out: Vec<Section<'_>> = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    for (n, line) in body.lines().enumerate() {
        let marker = fence_marker(line);
        match (fence, marker) {
            (Some((c, len)), Some((m, run))) if m == c && run >= len => {
                let rest = line.trim_start().trim_start_matches(c);
                if rest.trim().is_empty() {
                    fence = None;
                }
            }
            (Some(_), _) => {}
            (None, Some(m)) => fence = Some(m),
            (None, None) => {
                if let Some(label) = line.strip_prefix("### ") {
                    out.push(Section {
                        label: label.trim(),
                        line: n + 1,
                        text: String::new(),
                    });
                    continue;
                }
            }
        }
        if let Some(s) = out.last_mut() {
            s.text.push_str(line);
            s.text.push('\n');
        }
    }
    out
}

/// A code fence's character and length (three or more backticks or
/// tildes starting the line, CommonMark's rule).
fn fence_marker(line: &str) -> Option<(char, usize)> {
    let t = line.trim_start();
    let c = t.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let run = t.len() - t.trim_start_matches(c).len();
    (run >= 3 && line.len() - t.len() < 4).then_some((c, run))
}

/// One answer read by its field's kind: `None` when left empty.
fn answer(field: &Field, text: String) -> Result<Option<Value>, String> {
    let text = text.trim();
    if text.is_empty() || text == NO_RESPONSE {
        return Ok(None);
    }
    match &field.kind {
        Kind::Yaml => yaml(field, text).map(Some),
        Kind::Flag => flag(text),
        kind => {
            let line = one_line(text)?;
            scalar(kind, line).map(Some)
        }
    }
}

fn one_line(text: &str) -> Result<&str, String> {
    if text.contains('\n') {
        return Err("one line was expected; this field takes a single value".into());
    }
    if text.chars().count() > MAX_LINE_CHARS {
        return Err(format!("longer than {MAX_LINE_CHARS} characters"));
    }
    if text.chars().any(|c| c.is_control()) {
        return Err("holds a control character".into());
    }
    Ok(text)
}

fn scalar(kind: &Kind, line: &str) -> Result<Value, String> {
    match kind {
        Kind::Text => Ok(Value::String(line.to_string())),
        Kind::Integer => line
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| "not a whole number".into()),
        Kind::Number => line
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| "not a number".into()),
        Kind::Choice(options) => options
            .iter()
            .find(|o| flow(o) == line)
            .cloned()
            .ok_or_else(|| "not one of the form's options".into()),
        Kind::Flag | Kind::Yaml => unreachable!("read by flag() and yaml()"),
    }
}

/// The ticked boxes: `- [X] Set to true` or `- [X] Set to false`.
fn flag(text: &str) -> Result<Option<Value>, String> {
    let mut value = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (ticked, option) = match line.get(..6) {
            Some("- [X] " | "- [x] ") => (true, &line[6..]),
            Some("- [ ] ") => (false, &line[6..]),
            _ => return Err("not a list of boxes as the form writes it".into()),
        };
        let v = match option.trim() {
            FLAG_TRUE => true,
            FLAG_FALSE => false,
            _ => return Err("not one of the form's boxes".into()),
        };
        if ticked {
            if value.is_some() {
                return Err(format!(
                    "both boxes are ticked; tick `{FLAG_TRUE}` or `{FLAG_FALSE}`"
                ));
            }
            value = Some(Value::Bool(v));
        }
    }
    Ok(value)
}

/// A YAML text area: the fenced text, loaded with the limits of every
/// YAML file fleetform reads.
fn yaml(field: &Field, text: &str) -> Result<Value, String> {
    let inner = text
        .strip_prefix("```yaml\n")
        .or_else(|| text.strip_prefix("```yml\n"))
        .or_else(|| text.strip_prefix("```\n"))
        .and_then(|t| t.strip_suffix("```"))
        .unwrap_or(text);
    let shown = Path::new(&field.label);
    fleetform_yaml::load_str(inner, shown, &fleetform_yaml::Limits::default())
        .map(|doc| doc.value)
        .map_err(|e| format!("not YAML: {}", e.message))
}

#[cfg(test)]
mod tests;
