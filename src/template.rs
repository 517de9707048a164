//! Templates: string values in layers, and the embedded Markdown templates.
//!
//! Value templates run in a sandbox: strict undefined, no loader (so no
//! `include`/`import`/`extends`), a fuel budget, a low recursion limit and a
//! cap on output size.

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// Fuel for one value template (minijinja instructions).
pub const VALUE_FUEL: u64 = 20_000;
/// Largest rendered value, in bytes.
pub const VALUE_MAX_OUTPUT: usize = 64 * 1024;

/// Why a value template failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// True when a string holds template syntax.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// The sandbox for value templates.
pub struct ValueTemplates {
    env: Environment<'static>,
}

impl Default for ValueTemplates {
    fn default() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(VALUE_FUEL));
        env.set_recursion_limit(16);
        ValueTemplates { env }
    }
}

impl ValueTemplates {
    pub fn render(&self, source: &str, ctx: &impl Serialize) -> Result<String, TemplateError> {
        let out = self
            .env
            .render_str(source, minijinja::Value::from(minijinja::value::Serde(ctx)))
            .map_err(|e| TemplateError(describe(&e)))?;
        if out.len() > VALUE_MAX_OUTPUT {
            return Err(TemplateError(format!(
                "template renders to {} bytes, more than the limit of {VALUE_MAX_OUTPUT}",
                out.len()
            )));
        }
        Ok(out)
    }
}

fn describe(e: &minijinja::Error) -> String {
    use minijinja::ErrorKind;
    let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
    match e.kind() {
        ErrorKind::UndefinedError => format!(
            "template uses an undefined variable{detail}; available: customer, environment, project_name, repo"
        ),
        ErrorKind::OutOfFuel => "template does too much work (fuel exhausted); simplify it".into(),
        ErrorKind::TemplateNotFound => "templates cannot include or import other templates".into(),
        ErrorKind::SyntaxError => format!("template syntax error{detail}"),
        _ => format!("template error: {}{detail}", e.kind()),
    }
}

/// The embedded Markdown templates (plan comment, summaries).
pub fn markdown() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("default delimiters are valid"),
    );
    for (name, src) in EMBEDDED {
        env.add_template(name, src)
            .expect("embedded templates parse");
    }
    env
}

const EMBEDDED: &[(&str, &str)] = &[
    (
        "plan_comment.md",
        include_str!("templates/plan_comment.md.j2"),
    ),
    (
        "instructions.md",
        include_str!("templates/instructions.md.j2"),
    ),
];

/// The customer trigger workflow template shipped in `workflows/`.
pub const CUSTOMER_WORKFLOW: &str = include_str!("../workflows/customer-trigger.yml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_and_bounded() {
        let t = ValueTemplates::default();
        let ctx = serde_json::json!({"environment": "staging"});
        assert_eq!(t.render("{{ environment }}", &ctx).unwrap(), "staging");
        assert!(t
            .render("{{ nope }}", &ctx)
            .unwrap_err()
            .0
            .contains("undefined"));
        assert!(t.render("{% include 'x' %}", &ctx).is_err());
        let e = t
            .render("{% for i in range(100000) %}{{ i }}{% endfor %}", &ctx)
            .unwrap_err();
        assert!(e.0.contains("fuel"), "{e}");
        assert!(t
            .render("{{ 'x' * 1000000 }}", &ctx)
            .unwrap_err()
            .0
            .contains("limit"));
    }
}
