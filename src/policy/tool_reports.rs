//! How checkov's and conftest's JSON reads, strictly: a tool's stdout is a
//! report of the documented shape or it is no report, and no report is a
//! failed gate (`engine::tools` says so with the end of its stderr),
//! never "no check applied". A tool that exits 0 after printing `[0]`,
//! `["ok"]` or `{"results": 5}` has told nothing about the plan.
//!
//! The shapes (only what fleetform reads is checked; other keys are free):
//!
//! - checkov (`-o json`): a report `{"results": {"failed_checks": [{…}],
//!   "passed_checks": [{…}]}, …}`, a non-empty list of such reports (one
//!   per framework), or, when nothing was scanned, the bare summary
//!   `{"passed": <count>, "failed": <count>, …}`.
//! - conftest (`--output json`): a non-empty list of results, one per file
//!   and namespace, each `{"successes": <count>, "failures": [{"msg": …,
//!   "metadata": {…}}], …}` (`failures` may be absent).
//!
//! All text a tool printed is untrusted: one line each, without control
//! characters, cut short (`tools::clean`).

use serde_json::{Map, Value};

use super::tools::{clean, ToolOutcome, MAX_FINDINGS};
use crate::config::policy_tools::ToolKind;
use crate::data::verdict::Finding;

/// Reads a tool's report by its kind; the outcome, or why it is no report.
pub fn parse(kind: ToolKind, stdout: &str) -> Result<ToolOutcome, String> {
    match kind {
        ToolKind::Checkov => parse_checkov(stdout),
        ToolKind::Conftest => parse_conftest(stdout),
        ToolKind::Infracost => crate::data::cost::CostEstimate::from_infracost(stdout)
            .map(ToolOutcome::Costed)
            .map_err(|e| e.to_string()),
    }
}

/// Counts and findings gathered over a report's parts.
#[derive(Default)]
struct Tally {
    findings: Vec<Finding>,
    failed: usize,
    passed: usize,
}

impl Tally {
    fn finding(&mut self, check: Option<String>, resource: Option<String>, title: Option<String>) {
        self.failed += 1;
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(Finding {
                check: check.unwrap_or_else(|| "?".into()),
                resource,
                title: title.unwrap_or_default(),
            });
        }
    }

    fn outcome(self) -> ToolOutcome {
        ToolOutcome::Ran {
            findings: self.findings,
            failed: self.failed,
            passed: self.passed,
        }
    }
}

/// Reads `checkov -o json`.
pub fn parse_checkov(stdout: &str) -> Result<ToolOutcome, String> {
    let v: Value = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("checkov's output is not JSON ({e})"))?;
    let no_report = |why: String| format!("checkov's output is not a report: {why}");
    let mut tally = Tally::default();
    match &v {
        Value::Object(report) => checkov_report(report, "", &mut tally).map_err(no_report)?,
        Value::Array(items) if items.is_empty() => {
            return Err(no_report("an empty list".into()));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let at = format!("item {i}: ");
                let Value::Object(report) = item else {
                    return Err(no_report(format!("{at}{} instead of a report", kind(item))));
                };
                checkov_report(report, &at, &mut tally).map_err(no_report)?;
            }
        }
        other => return Err(no_report(format!("{} instead of a report", kind(other)))),
    }
    Ok(tally.outcome())
}

/// One checkov report (or bare summary) into `tally`; `at` prefixes
/// errors.
fn checkov_report(report: &Map<String, Value>, at: &str, tally: &mut Tally) -> Result<(), String> {
    let Some(results) = report.get("results") else {
        // The bare summary checkov prints when nothing was scanned.
        tally.failed += count(report, "failed").map_err(|e| format!("{at}{e}"))?;
        tally.passed += count(report, "passed").map_err(|e| format!("{at}{e}"))?;
        return Ok(());
    };
    let Value::Object(results) = results else {
        return Err(format!("{at}`results` is {}, not an object", kind(results)));
    };
    let failed =
        objects(results, "failed_checks", true).map_err(|e| format!("{at}`results`.{e}"))?;
    let passed =
        objects(results, "passed_checks", false).map_err(|e| format!("{at}`results`.{e}"))?;
    tally.passed += passed.len();
    for f in failed {
        tally.finding(
            text_of(f, "check_id"),
            text_of(f, "resource_address").or_else(|| text_of(f, "resource")),
            text_of(f, "check_name"),
        );
    }
    Ok(())
}

/// Reads `conftest test --output json`. Warnings do not fail conftest and
/// are not findings here.
pub fn parse_conftest(stdout: &str) -> Result<ToolOutcome, String> {
    let v: Value = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("conftest's output is not JSON ({e})"))?;
    let no_report = |why: String| format!("conftest's output is not a list of results: {why}");
    let entries = match &v {
        Value::Array(entries) if entries.is_empty() => {
            return Err(no_report("an empty list".into()));
        }
        Value::Array(entries) => entries,
        other => return Err(no_report(format!("{} instead of a list", kind(other)))),
    };
    let mut tally = Tally::default();
    for (i, e) in entries.iter().enumerate() {
        let at = |why: String| no_report(format!("item {i}: {why}"));
        let Value::Object(entry) = e else {
            return Err(at(format!("{} instead of a result", kind(e))));
        };
        tally.passed += count(entry, "successes").map_err(at)?;
        let namespace = text_of(entry, "namespace");
        for f in objects(entry, "failures", false).map_err(at)? {
            let meta = f.get("metadata");
            let pick = |k: &str| meta.and_then(|m| text_of_value(m, k));
            let details = |k: &str| {
                meta.and_then(|m| m.get("details"))
                    .and_then(|d| text_of_value(d, k))
            };
            tally.finding(
                pick("id")
                    .or_else(|| details("id"))
                    .or_else(|| namespace.clone()),
                pick("resource").or_else(|| details("resource")),
                text_of(f, "msg"),
            );
        }
    }
    Ok(tally.outcome())
}

/// What a JSON value is, for a message (never the value itself).
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The count under `key`: a whole number, required.
fn count(obj: &Map<String, Value>, key: &str) -> Result<usize, String> {
    match obj.get(key) {
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| format!("`{key}` is {}, not a count", kind(v))),
        None => Err(format!("no `{key}` count")),
    }
}

/// The list of objects under `key` (none when absent and not `required`).
fn objects<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    required: bool,
) -> Result<Vec<&'a Map<String, Value>>, String> {
    match obj.get(key) {
        None if !required => Ok(Vec::new()),
        None => Err(format!("`{key}` is missing")),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(o) => Ok(o),
                other => Err(format!(
                    "`{key}` item {i} is {}, not an object",
                    kind(other)
                )),
            })
            .collect(),
        Some(other) => Err(format!("`{key}` is {}, not a list", kind(other))),
    }
}

fn text_of(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key)
        .and_then(Value::as_str)
        .map(clean)
        .filter(|s| !s.is_empty())
}

fn text_of_value(v: &Value, key: &str) -> Option<String> {
    v.as_object().and_then(|o| text_of(o, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECKOV: &str = r#"{
      "check_type": "terraform_plan",
      "results": {
        "passed_checks": [{"check_id": "CKV_AWS_19", "resource": "aws_s3_bucket.ok"}],
        "failed_checks": [
          {"check_id": "CKV_AWS_20", "check_name": "S3 Bucket has an ACL defined which allows public READ access.",
           "resource": "aws_s3_bucket.data", "file_path": "/plan.json"},
          {"check_id": "CKV_AWS_21", "check_name": "Ensure all data stored in the S3 bucket have versioning enabled\n::error::owned",
           "resource": "aws_s3_bucket.data"}
        ],
        "skipped_checks": [], "parsing_errors": []
      },
      "summary": {"passed": 1, "failed": 2, "skipped": 0}
    }"#;

    #[test]
    fn checkov_reports_read_in_every_shape() {
        let ToolOutcome::Ran {
            findings,
            failed,
            passed,
        } = parse_checkov(CHECKOV).unwrap()
        else {
            panic!("not a report")
        };
        assert_eq!((failed, passed), (2, 1));
        assert_eq!(findings[0].check, "CKV_AWS_20");
        assert_eq!(findings[0].resource.as_deref(), Some("aws_s3_bucket.data"));
        // Untrusted text is one line.
        assert!(!findings[1].title.contains('\n'), "{:?}", findings[1]);
        // A list of reports adds up.
        let two = format!("[{CHECKOV}, {CHECKOV}]");
        assert!(matches!(
            parse_checkov(&two),
            Ok(ToolOutcome::Ran {
                failed: 4,
                passed: 2,
                ..
            })
        ));
        // Nothing scanned: the bare summary.
        let bare =
            r#"{"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0}"#;
        assert!(matches!(
            parse_checkov(bare),
            Ok(ToolOutcome::Ran {
                failed: 0,
                passed: 0,
                ..
            })
        ));
        assert!(parse_checkov("Traceback (most recent call last)").is_err());
        assert!(parse_checkov("42").is_err());
    }

    /// Output that is not a report of the documented shape is no report,
    /// however the tool exited: never "no check applied".
    #[test]
    fn anything_but_a_report_is_no_report() {
        for text in [
            "[0]",
            "[null]",
            r#"["ok"]"#,
            "[]",
            "{}",
            "null",
            r#""ok""#,
            r#"{"results": 5}"#,
            r#"{"results": null}"#,
            r#"{"results": {}}"#,
            r#"{"results": {"failed_checks": "many"}}"#,
            r#"{"results": {"failed_checks": [1]}}"#,
            r#"{"results": {"failed_checks": [], "passed_checks": {"n": 3}}}"#,
            r#"{"passed": "0", "failed": 0}"#,
            r#"{"passed": 0}"#,
            r#"{"failed": -1, "passed": 0}"#,
            r#"{"status": "ok"}"#,
            &format!("[{CHECKOV}, 0]"),
        ] {
            let e = parse_checkov(text).expect_err(text);
            assert!(e.starts_with("checkov's output is not"), "{text}: {e}");
        }
        for text in [
            "[]",
            "[0]",
            "[null]",
            r#"["ok"]"#,
            r#"{"results": 5}"#,
            r#"[{"namespace": "main"}]"#,
            r#"[{"successes": "3"}]"#,
            r#"[{"successes": 1, "failures": "many"}]"#,
            r#"[{"successes": 1, "failures": ["x"]}]"#,
        ] {
            let e = parse_conftest(text).expect_err(text);
            assert!(e.starts_with("conftest's output is not"), "{text}: {e}");
        }
        // The message says what was found, never the tool's text.
        let e = parse_checkov(r#"{"results": {"failed_checks": "::error::x"}}"#).unwrap_err();
        assert!(
            e.contains("`results`.`failed_checks` is a string, not a list"),
            "{e}"
        );
        assert!(!e.contains("::error"), "{e}");
    }

    #[test]
    fn conftest_failures_are_findings_and_warnings_are_not() {
        let out = r#"[
          {"filename": "plan.json", "namespace": "main", "successes": 3,
           "warnings": [{"msg": "only a warning"}],
           "failures": [
             {"msg": "aws_s3_bucket.data must not be public", "metadata": {"details": {"resource": "aws_s3_bucket.data"}}},
             {"msg": "no owner tag"}
           ]},
          {"filename": "plan.json", "namespace": "tags", "successes": 1}
        ]"#;
        let ToolOutcome::Ran {
            findings,
            failed,
            passed,
        } = parse_conftest(out).unwrap()
        else {
            panic!("not a report")
        };
        assert_eq!((failed, passed), (2, 4));
        assert_eq!(findings[0].check, "main");
        assert_eq!(findings[0].resource.as_deref(), Some("aws_s3_bucket.data"));
        assert_eq!(findings[1].title, "no owner tag");
        assert!(parse_conftest(r#"{"not": "a list"}"#).is_err());
        assert!(parse_conftest("").is_err());
    }

    #[test]
    fn findings_are_capped_and_text_is_cut() {
        let fails: Vec<String> = (0..80)
            .map(|i| {
                format!(
                    r#"{{"check_id": "C{i}", "resource": "r.{i}", "check_name": "{}"}}"#,
                    "x".repeat(500)
                )
            })
            .collect();
        let out = format!(
            r#"{{"results": {{"failed_checks": [{}]}}}}"#,
            fails.join(",")
        );
        let ToolOutcome::Ran {
            findings, failed, ..
        } = parse_checkov(&out).unwrap()
        else {
            panic!("not a report")
        };
        assert_eq!((findings.len(), failed), (MAX_FINDINGS, 80));
        assert_eq!(
            findings[0].title.chars().count(),
            super::super::tools::MAX_TEXT + 1
        );
    }
}
