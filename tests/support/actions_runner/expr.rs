//! GitHub's expression language, evaluated as the runner evaluates it.
//!
//! Parsed by `github-actions-expressions` (zizmor's parser: the grammar,
//! the literals, the operators' semantics in `Evaluation::sema`); this file
//! adds what the parser leaves to a runner: reading the contexts, the
//! functions over values that are not constants, and the status functions
//! of a step or a job. Each rule cites its page:
//! <https://docs.github.com/en/actions/reference/workflows-and-actions/expressions>
//! and <https://docs.github.com/en/actions/reference/workflows-and-actions/contexts>.

use github_actions_expressions::call::Function;
use github_actions_expressions::context::Context;
use github_actions_expressions::literal::Literal;
use github_actions_expressions::op::{BinOp, UnOp};
use github_actions_expressions::{Evaluation, Expr, SpannedExpr};
use serde_json::Value;

/// What the status functions read: whether every step (or needed job)
/// before succeeded, and whether the run was cancelled.
#[derive(Debug, Clone, Copy)]
pub struct Status {
    pub all_succeeded: bool,
    pub cancelled: bool,
}

impl Status {
    pub const OK: Status = Status {
        all_succeeded: true,
        cancelled: false,
    };
}

/// The contexts an expression reads (`github`, `env`, `vars`, `secrets`,
/// `inputs`, `needs`, `steps`, `matrix`, `job`, `runner`, `strategy`),
/// one JSON object each under its name.
pub struct Scope<'a> {
    pub contexts: &'a Value,
    pub status: Status,
}

/// An expression's value (the text inside `${{ }}`).
pub fn eval(src: &str, scope: &Scope<'_>) -> Result<Evaluation, String> {
    let parsed = Expr::parse(src).map_err(|e| format!("`{src}`: {e}"))?;
    value(&parsed, scope).map_err(|e| format!("`{src}`: {e}"))
}

/// An `if:`: a bare expression or one in `${{ }}`; without a status
/// function it is `success() && (…)` ("Status check functions": "A default
/// status check of success() is applied unless you include one of these
/// functions").
pub fn condition(src: &str, scope: &Scope<'_>) -> Result<bool, String> {
    let trimmed = src.trim();
    let inner = trimmed
        .strip_prefix("${{")
        .and_then(|s| s.strip_suffix("}}"))
        .unwrap_or(trimmed)
        .trim();
    let parsed = Expr::parse(inner).map_err(|e| format!("`{inner}`: {e}"))?;
    // `success() && (…)` reads the right side only when the left holds:
    // a skipped job's `if:` never evaluates `fromJSON` of an output its
    // failed need did not set.
    let implicit = !names_a_status_function(&parsed);
    if implicit && (!scope.status.all_succeeded || scope.status.cancelled) {
        return Ok(false);
    }
    Ok(value(&parsed, scope)
        .map_err(|e| format!("`{inner}`: {e}"))?
        .as_boolean())
}

/// A string with `${{ }}` in it, each replaced by its value as text.
pub fn interpolate(text: &str, scope: &Scope<'_>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("${{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 3..];
        let end = closing(after).ok_or_else(|| format!("`{text}`: `${{{{` without `}}}}`"))?;
        out.push_str(&text_of(&eval(after[..end].trim(), scope)?));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The expressions inside `${{ }}` in `text`, as written.
pub fn expressions_in(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("${{") {
        let after = &rest[at + 3..];
        let Some(end) = closing(after) else { break };
        out.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    out
}

/// Which secrets an expression reads: `Some(names)` when each is named
/// (`secrets.X`, `secrets['X']`), `None` when the context is read whole
/// (`toJSON(secrets)`) or by a computed index (`secrets[needs.a.outputs.b]`).
pub fn secrets_read(src: &str) -> Result<Option<Vec<String>>, String> {
    let parsed = Expr::parse(src).map_err(|e| format!("`{src}`: {e}"))?;
    let mut names = Vec::new();
    Ok(collect_secrets(&parsed, &mut names).then_some(names))
}

/// Adds the secrets `e` names to `names`; `false` when it reads them
/// other than by name.
fn collect_secrets(e: &SpannedExpr<'_>, names: &mut Vec<String>) -> bool {
    match &e.inner {
        Expr::Context(c) => {
            let is_secrets = matches!(
                c.parts.first().map(|p| &p.inner),
                Some(Expr::Identifier(i)) if i.as_str().eq_ignore_ascii_case("secrets")
            );
            if is_secrets {
                // `secrets` alone, the whole context: `None` below.
                match c.parts.get(1).map(|p| &p.inner) {
                    Some(Expr::Identifier(i)) => names.push(i.as_str().to_string()),
                    Some(Expr::Index(ix)) => match &ix.inner {
                        Expr::Literal(Literal::String(n)) => names.push(n.to_string()),
                        _ => return false,
                    },
                    _ => return false,
                }
            }
            // The names of a context's parts are no expressions; a call
            // (`fromJSON(x).a`) or an index may hold one.
            c.parts
                .iter()
                .filter(|p| !matches!(p.inner, Expr::Identifier(_)))
                .all(|p| collect_secrets(p, names))
        }
        Expr::Identifier(i) => !i.as_str().eq_ignore_ascii_case("secrets"),
        Expr::BinExpr(b) => collect_secrets(&b.lhs, names) && collect_secrets(&b.rhs, names),
        Expr::UnExpr { expr, .. } => collect_secrets(expr, names),
        Expr::Call(c) => c.args.iter().all(|a| collect_secrets(a, names)),
        Expr::Index(i) => collect_secrets(i, names),
        Expr::Literal(_) | Expr::Star => true,
    }
}

/// The contexts (their top-level names, lowercase) the expressions of
/// `text` read.
pub fn contexts_read(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for src in expressions_in(text) {
        let parsed = Expr::parse(src).map_err(|e| format!("`{src}`: {e}"))?;
        collect_contexts(&parsed, &mut out);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn collect_contexts(e: &SpannedExpr<'_>, out: &mut Vec<String>) {
    match &e.inner {
        Expr::Context(c) => {
            if let Some(Expr::Identifier(i)) = c.parts.first().map(|p| &p.inner) {
                out.push(i.as_str().to_ascii_lowercase());
            }
            for p in c
                .parts
                .iter()
                .filter(|p| !matches!(p.inner, Expr::Identifier(_)))
            {
                collect_contexts(p, out);
            }
        }
        Expr::Identifier(i) => out.push(i.as_str().to_ascii_lowercase()),
        Expr::BinExpr(b) => {
            collect_contexts(&b.lhs, out);
            collect_contexts(&b.rhs, out);
        }
        Expr::UnExpr { expr, .. } => collect_contexts(expr, out),
        Expr::Call(c) => c.args.iter().for_each(|a| collect_contexts(a, out)),
        Expr::Index(i) => collect_contexts(i, out),
        Expr::Literal(_) | Expr::Star => {}
    }
}

/// Where the `}}` that closes an expression is, outside its strings.
fn closing(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let (mut i, mut quoted) = (0, false);
    while i + 1 < b.len() {
        match (b[i], quoted) {
            (b'\'', _) => quoted = !quoted,
            (b'}', false) if b[i + 1] == b'}' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// A value as the runner writes it into a string ("Literals": `null` is
/// empty, numbers and booleans as written, objects and arrays as their
/// type's name).
pub fn text_of(v: &Evaluation) -> String {
    match v {
        Evaluation::Null => String::new(),
        Evaluation::Array(_) => "Array".into(),
        Evaluation::Object(_) => "Object".into(),
        other => other.sema().to_string(),
    }
}

fn names_a_status_function(e: &SpannedExpr<'_>) -> bool {
    match &e.inner {
        Expr::Call(c) => {
            matches!(
                c.func,
                Function::Success | Function::Failure | Function::Always | Function::Cancelled
            ) || c.args.iter().any(names_a_status_function)
        }
        Expr::BinExpr(b) => names_a_status_function(&b.lhs) || names_a_status_function(&b.rhs),
        Expr::UnExpr { expr, .. } => names_a_status_function(expr),
        Expr::Index(i) => names_a_status_function(i),
        _ => false,
    }
}

fn value(e: &SpannedExpr<'_>, scope: &Scope<'_>) -> Result<Evaluation, String> {
    match &e.inner {
        Expr::Literal(l) => Ok(literal(l)),
        Expr::Context(c) => Ok(lookup(c, scope)?),
        Expr::Identifier(i) => Ok(json(scope.contexts.get(i.as_str()).unwrap_or(&Value::Null))),
        Expr::BinExpr(b) => {
            let lhs = value(&b.lhs, scope)?;
            // `&&` and `||` return an operand and do not read the other one
            // when the first decides ("Operators").
            match b.op {
                BinOp::And if !lhs.as_boolean() => return Ok(lhs),
                BinOp::Or if lhs.as_boolean() => return Ok(lhs),
                BinOp::And | BinOp::Or => return value(&b.rhs, scope),
                _ => {}
            }
            let rhs = value(&b.rhs, scope)?;
            let (l, r) = (lhs.sema(), rhs.sema());
            Ok(Evaluation::Boolean(match b.op {
                BinOp::Eq => l == r,
                BinOp::Neq => l != r,
                BinOp::Lt => l < r,
                BinOp::Le => l <= r,
                BinOp::Gt => l > r,
                BinOp::Ge => l >= r,
                BinOp::And | BinOp::Or => unreachable!("decided above"),
            }))
        }
        Expr::UnExpr {
            op: UnOp::Not,
            expr,
        } => Ok(Evaluation::Boolean(!value(expr, scope)?.as_boolean())),
        Expr::Call(c) => {
            let args = c
                .args
                .iter()
                .map(|a| value(a, scope))
                .collect::<Result<Vec<_>, _>>()?;
            call(&c.func, args, scope.status)
        }
        Expr::Star | Expr::Index(_) => Err("`*` or an index outside a context".into()),
    }
}

fn literal(l: &Literal<'_>) -> Evaluation {
    match l {
        Literal::Number(n) => Evaluation::Number(*n),
        Literal::String(s) => Evaluation::String(s.to_string()),
        Literal::Boolean(b) => Evaluation::Boolean(*b),
        Literal::Null => Evaluation::Null,
    }
}

/// `a.b['c'][0]` and `a.*.b` over the contexts; a missing property is
/// `null` ("Contexts": "If you attempt to dereference a nonexistent
/// property, it will evaluate to an empty string" in a string, null as a
/// value). Property names are case-insensitive.
fn lookup(c: &Context<'_>, scope: &Scope<'_>) -> Result<Evaluation, String> {
    let mut current: Vec<Value> = vec![scope.contexts.clone()];
    let mut starred = false;
    for (at, part) in c.parts.iter().enumerate() {
        let next: Vec<Value> = match &part.inner {
            // `fromJSON(x).a[0]`: a call's value, then its properties.
            Expr::Call(_) if at == 0 => {
                let v: Value = value(part, scope)?.try_into().unwrap_or(Value::Null);
                vec![v]
            }
            Expr::Identifier(i) => current.iter().map(|v| field(v, i.as_str())).collect(),
            Expr::Index(ix) => match &ix.inner {
                Expr::Star => {
                    starred = true;
                    current.iter().flat_map(children).collect()
                }
                _ => {
                    let key = value(ix, scope)?;
                    current.iter().map(|v| index(v, &key)).collect()
                }
            },
            Expr::Star => {
                starred = true;
                current.iter().flat_map(children).collect()
            }
            Expr::Call(_) => return Err("a call inside a context".into()),
            other => return Err(format!("unexpected part of a context: {other:?}")),
        };
        current = next;
    }
    Ok(match starred {
        true => Evaluation::Array(current.iter().filter(|v| !v.is_null()).map(json).collect()),
        false => json(current.first().unwrap_or(&Value::Null)),
    })
}

fn field(v: &Value, name: &str) -> Value {
    match v {
        Value::Object(m) => m
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn index(v: &Value, key: &Evaluation) -> Value {
    match (v, key) {
        (Value::Array(a), Evaluation::Number(n)) if *n >= 0.0 => {
            a.get(*n as usize).cloned().unwrap_or(Value::Null)
        }
        (Value::Object(_), k) => field(v, &text_of(k)),
        _ => Value::Null,
    }
}

fn children(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Object(m) => m.values().cloned().collect(),
        _ => Vec::new(),
    }
}

pub fn json(v: &Value) -> Evaluation {
    Evaluation::try_from(v.clone()).unwrap_or(Evaluation::Null)
}

/// The functions ("Functions" on the expressions page).
fn call(f: &Function, args: Vec<Evaluation>, status: Status) -> Result<Evaluation, String> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Evaluation::Null);
    let lower = |e: &Evaluation| text_of(e).to_lowercase();
    Ok(match f {
        // "contains: … If search is an array, this function returns true
        // if the item is an element in the array"; strings ignore case.
        Function::Contains => Evaluation::Boolean(match arg(0) {
            Evaluation::Array(items) => items.iter().any(|i| i.sema() == arg(1).sema()),
            s => lower(&s).contains(&lower(&arg(1))),
        }),
        Function::StartsWith => Evaluation::Boolean(lower(&arg(0)).starts_with(&lower(&arg(1)))),
        Function::EndsWith => Evaluation::Boolean(lower(&arg(0)).ends_with(&lower(&arg(1)))),
        Function::Format => Evaluation::String(format_fn(&text_of(&arg(0)), &args[1..])?),
        Function::Join => {
            let sep = if args.len() > 1 {
                text_of(&arg(1))
            } else {
                ",".into()
            };
            Evaluation::String(match arg(0) {
                Evaluation::Array(items) => {
                    items.iter().map(text_of).collect::<Vec<_>>().join(&sep)
                }
                other => text_of(&other),
            })
        }
        Function::ToJSON => {
            let v: Value = arg(0).try_into().map_err(|()| "toJSON of a NaN")?;
            Evaluation::String(serde_json::to_string_pretty(&v).unwrap())
        }
        Function::FromJSON => {
            let text = text_of(&arg(0));
            let v: Value =
                serde_json::from_str(&text).map_err(|e| format!("fromJSON(`{text}`): {e}"))?;
            json(&v)
        }
        Function::Case => {
            let mut pairs = args.chunks(2);
            loop {
                match pairs.next() {
                    Some([pred, v]) if pred.as_boolean() => break v.clone(),
                    Some([_, _]) => continue,
                    Some([default]) => break default.clone(),
                    _ => break Evaluation::Null,
                }
            }
        }
        Function::Success => Evaluation::Boolean(status.all_succeeded && !status.cancelled),
        Function::Failure => Evaluation::Boolean(!status.all_succeeded),
        Function::Always => Evaluation::Boolean(true),
        Function::Cancelled => Evaluation::Boolean(status.cancelled),
        Function::HashFiles => return Err("hashFiles is not run here".into()),
    })
}

/// `format('{0} {{x}}', a)`: `{N}` is the Nth argument, `{{` and `}}` are
/// braces.
fn format_fn(template: &str, args: &[Evaluation]) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let n: String = chars.by_ref().take_while(|c| *c != '}').collect();
                let i: usize = n.parse().map_err(|_| format!("format: `{{{n}}}`"))?;
                out.push_str(&text_of(
                    args.get(i)
                        .ok_or_else(|| format!("format: no argument {i}"))?,
                ));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope(v: &Value) -> Scope<'_> {
        Scope {
            contexts: v,
            status: Status::OK,
        }
    }

    /// The examples of GitHub's expressions page.
    #[test]
    fn the_documented_examples_evaluate_as_github_says() {
        let cx = json!({
            "github": {"event_name": "push", "ref": "refs/heads/main", "event": {"issue": {"labels": [{"name": "bug"}, {"name": "ui"}]}}},
            "env": {"DAY": "Monday"},
            "secrets": {},
            "needs": {"plan": {"result": "success", "outputs": {"matrix": "{\"env\":[\"staging\",\"production\"]}"}}},
        });
        let s = scope(&cx);
        let text = |e: &str| text_of(&eval(e, &s).unwrap());
        assert_eq!(
            text("format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat')"),
            "Hello Mona the Octocat"
        );
        assert_eq!(
            text("format('{{Hello {0} {1} {2}!}}', 'Mona', 'the', 'Octocat')"),
            "{Hello Mona the Octocat!}"
        );
        assert_eq!(text("contains('Hello world', 'llo')"), "true");
        assert_eq!(
            text("contains(github.event.issue.labels.*.name, 'bug')"),
            "true"
        );
        assert_eq!(
            text("contains(fromJSON('[\"push\", \"pull_request\"]'), github.event_name)"),
            "true"
        );
        assert_eq!(text("startsWith('Hello world', 'He')"), "true");
        assert_eq!(text("endsWith('Hello world', 'ld')"), "true");
        assert_eq!(
            text("join(github.event.issue.labels.*.name, ', ')"),
            "bug, ui"
        );
        assert_eq!(text("github.ref == 'refs/heads/main' && 'value_for_main_branch' || 'value_for_other_branches'"), "value_for_main_branch");
        assert_eq!(
            text("fromJSON(needs.plan.outputs.matrix).env[1]"),
            "production"
        );
        assert_eq!(text("secrets.MISSING"), "");
        assert_eq!(
            text("case(env.DAY == 'Sunday', 'rest', env.DAY == 'Monday', 'work', 'other')"),
            "work"
        );
        assert_eq!(
            interpolate("day: ${{ env.day }}, ${{ '}}' }}", &s).unwrap(),
            "day: Monday, }}"
        );
    }

    #[test]
    fn an_if_without_a_status_function_needs_success() {
        let cx = json!({"github": {"event_name": "push"}});
        let failed = Scope {
            contexts: &cx,
            status: Status {
                all_succeeded: false,
                cancelled: false,
            },
        };
        assert!(!condition("github.event_name == 'push'", &failed).unwrap());
        assert!(condition("${{ always() && github.event_name == 'push' }}", &failed).unwrap());
        assert!(condition("failure()", &failed).unwrap());
        assert!(condition("github.event_name == 'push'", &scope(&cx)).unwrap());
    }
}
