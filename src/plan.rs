//! Plan summaries (from `show -json`) and their Markdown rendering.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// GitHub's limit on an issue comment body.
pub const COMMENT_LIMIT: usize = 65_536;

/// What one resource or output does in a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
    Replace,
    Read,
}

impl Action {
    fn from_actions(actions: &[Value]) -> Option<Action> {
        let a: Vec<&str> = actions.iter().filter_map(Value::as_str).collect();
        match a.as_slice() {
            ["create"] => Some(Action::Create),
            ["update"] => Some(Action::Update),
            ["delete"] => Some(Action::Delete),
            ["delete", "create"] | ["create", "delete"] => Some(Action::Replace),
            ["read"] => Some(Action::Read),
            _ => None, // no-op
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Delete => "-",
            Action::Replace => "-/+",
            Action::Read => "<=",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub address: String,
    pub action: Action,
    /// The resource type (`aws_s3_bucket`), for policy gates.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
}

impl ResourceChange {
    /// The type, or the one read off the address (`module.m.type.name[0]`).
    pub fn resource_type(&self) -> &str {
        if let Some(t) = &self.resource_type {
            return t;
        }
        let mut parts: Vec<&str> = self.address.split('.').collect();
        while parts.len() > 2 && (parts[0] == "module" || parts[0] == "data") {
            parts.drain(..if parts[0] == "module" { 2 } else { 1 });
        }
        parts.first().copied().unwrap_or("")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputChange {
    pub name: String,
    pub action: Action,
}

/// Counts and addresses of a plan. `plan_sha256` binds it to the plan file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    pub customer: String,
    pub environment: String,
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub replace: usize,
    pub resources: Vec<ResourceChange>,
    pub outputs: Vec<OutputChange>,
    pub has_changes: bool,
    pub plan_sha256: String,
    pub state_key: String,
    /// The customer commit planned, when known.
    #[serde(default)]
    pub sha: Option<String>,
    /// Policy gates evaluated after the plan.
    #[serde(default)]
    pub gates: Option<crate::policy::Verdict>,
}

impl PlanSummary {
    /// Builds the summary from `terraform show -json` output.
    pub fn from_show_json(
        json: &Value,
        customer: &str,
        environment: &str,
        state_key: &str,
        plan_sha256: &str,
        has_changes: bool,
    ) -> Self {
        let mut s = PlanSummary {
            customer: customer.into(),
            environment: environment.into(),
            create: 0,
            update: 0,
            delete: 0,
            replace: 0,
            resources: Vec::new(),
            outputs: Vec::new(),
            has_changes,
            plan_sha256: plan_sha256.into(),
            state_key: state_key.into(),
            sha: None,
            gates: None,
        };
        let empty = Vec::new();
        for rc in json
            .get("resource_changes")
            .and_then(Value::as_array)
            .unwrap_or(&empty)
        {
            let actions = rc
                .pointer("/change/actions")
                .and_then(Value::as_array)
                .unwrap_or(&empty);
            let Some(action) = Action::from_actions(actions) else {
                continue;
            };
            match action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Delete => s.delete += 1,
                Action::Replace => s.replace += 1,
                Action::Read => {}
            }
            let address = rc
                .get("address")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            let resource_type = rc.get("type").and_then(Value::as_str).map(str::to_string);
            s.resources.push(ResourceChange {
                address,
                action,
                resource_type,
            });
        }
        if let Some(outs) = json.get("output_changes").and_then(Value::as_object) {
            for (name, oc) in outs {
                let actions = oc
                    .get("actions")
                    .and_then(Value::as_array)
                    .unwrap_or(&empty);
                if let Some(action) = Action::from_actions(actions) {
                    s.outputs.push(OutputChange {
                        name: name.clone(),
                        action,
                    });
                }
            }
        }
        s
    }

    /// `+2 ~1 -0` (replacements count as one add and one destroy, as
    /// Terraform counts them).
    pub fn counts(&self) -> String {
        format!(
            "+{} ~{} -{}",
            self.create + self.replace,
            self.update,
            self.delete + self.replace
        )
    }

    /// One line, as in a commit status: `staging: +2 ~1 -0`.
    pub fn headline(&self) -> String {
        if self.has_changes && self.resources.is_empty() {
            format!("{}: {} (outputs only)", self.environment, self.counts())
        } else {
            format!("{}: {}", self.environment, self.counts())
        }
    }
}

/// Escapes text for Markdown outside code blocks: no HTML, no mentions, no
/// links or emphasis can be smuggled through.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '|' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '@' => out.push_str("@\u{200b}"),
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Breaks `<!--` with a zero-width space so customer-controlled text (a
/// resource address holding a `for_each` key, plan output quoting a value)
/// can never contain a hidden marker that the sticky-comment lookup would
/// take for another comment's.
pub fn defuse_markers(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains("<!--") {
        std::borrow::Cow::Owned(s.replace("<!--", "<!-\u{200b}-"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// `s` as a Markdown inline code span that nothing can break out of: no
/// backticks (shown as `'`), no line breaks or control characters, no
/// hidden markers. Inside a code span HTML (`</details>`), mentions and
/// links are inert. For table cells use [`md_code_cell`].
pub fn md_code(s: &str) -> String {
    code_span(s, false)
}

/// [`md_code`] for a table cell: `|` is escaped too, so the span cannot
/// end the cell.
pub fn md_code_cell(s: &str) -> String {
    code_span(s, true)
}

fn code_span(s: &str, cell: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('`');
    for c in defuse_markers(s).chars() {
        match c {
            '`' => out.push('\''),
            '|' if cell => out.push_str("\\|"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('`');
    out
}

/// A code fence longer than any run of backticks in `text`.
pub fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat(longest.max(2) + 1)
}

/// The hidden marker that identifies a sticky comment.
pub fn comment_marker(customer: &str, environment: &str) -> String {
    // Slugs are `[a-z0-9-]` already; keep it so even if that ever changes,
    // so nothing can end the HTML comment (`-->`) early.
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect::<String>()
    };
    format!(
        "<!-- fleetform:plan customer={} environment={} -->",
        safe(customer),
        safe(environment)
    )
}

/// Inputs of the plan comment besides the summary.
#[derive(Debug, Clone, Serialize)]
pub struct CommentContext<'a> {
    pub summary: &'a PlanSummary,
    /// Where the full plan can be read (a run URL or a path).
    pub full_plan_at: &'a str,
    /// A link to the run that planned, if any.
    pub run_url: Option<&'a str>,
}

/// Renders the PR comment for a plan. If the full text would exceed
/// [`COMMENT_LIMIT`], keeps the head and the tail of the plan output and
/// says where the full plan is.
pub fn render_comment(
    ctx: &CommentContext<'_>,
    plan_text: &str,
) -> Result<String, minijinja::Error> {
    let plan_text: &str = &defuse_markers(plan_text);
    let render = |text: &str, omitted: usize| -> Result<String, minijinja::Error> {
        let env = crate::template::markdown();
        let t = env.get_template("plan_comment.md")?;
        t.render(minijinja::context! {
            marker => comment_marker(&ctx.summary.customer, &ctx.summary.environment),
            s => minijinja::Value::from(minijinja::value::Serde(ctx.summary)),
            counts => ctx.summary.counts(),
            gates => ctx.summary.gates.as_ref().map(|g| g.checklist()).unwrap_or_default(),
            full_plan_at => md_escape(ctx.full_plan_at),
            run_url => ctx.run_url,
            fence => fence_for(text),
            plan_text => text,
            omitted => omitted,
        })
    };
    let full = render(plan_text, 0)?;
    if full.len() <= COMMENT_LIMIT {
        return Ok(full);
    }
    let lines: Vec<&str> = plan_text.lines().collect();
    let overhead = full.len().saturating_sub(plan_text.len()) + 200;
    let budget = COMMENT_LIMIT.saturating_sub(overhead);
    let (mut head, mut tail) = (Vec::new(), Vec::new());
    let (mut used, mut i, mut j) = (0usize, 0usize, lines.len());
    // Take lines alternately from the head (2/3) and the tail (1/3).
    while i < j {
        let take_head = head.len() <= tail.len() * 2;
        let line = if take_head { lines[i] } else { lines[j - 1] };
        let cost = line.len() + 1;
        if used + cost > budget {
            break;
        }
        used += cost;
        if take_head {
            head.push(line);
            i += 1;
        } else {
            tail.push(line);
            j -= 1;
        }
    }
    tail.reverse();
    let omitted = j - i;
    let text = format!(
        "{}\n... {omitted} lines omitted ...\n{}",
        head.join("\n"),
        tail.join("\n")
    );
    let out = render(&text, omitted)?;
    debug_assert!(out.len() <= COMMENT_LIMIT);
    Ok(out)
}
