//! What a customer reads to change its settings, made from the
//! provider's schema: the GitHub issue form (`.github/ISSUE_TEMPLATE/`,
//! GitHub's form syntax) and the reference page of every setting. Both
//! take the same rows, one per field of the form (filled by the flow from
//! `values::form`).

use minijinja::Environment;
use serde::Serialize;

/// One setting as the form and the reference show it.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The issue form element's `id`.
    pub id: String,
    /// The dotted path: the form's label and the reference's heading.
    pub label: String,
    /// The path in the variables file, key by key.
    pub path: Vec<String>,
    /// A one-line field's value: `text`, `integer` or `number` (empty for
    /// the other controls).
    pub input: &'static str,
    /// A dropdown's options as the schema has them (JSON values).
    pub values: Vec<serde_json::Value>,
    /// The form element: `input`, `textarea`, `dropdown` or `checkboxes`.
    pub control: &'static str,
    /// The schema's type, in words.
    #[serde(rename = "type")]
    pub type_name: String,
    pub description: Option<String>,
    pub constraints: Vec<Constraint>,
    pub examples: Vec<String>,
    /// A dropdown's options.
    pub options: Vec<String>,
    pub required: bool,
    /// The first field of an environment's section: that environment.
    pub section_start: Option<String>,
    /// The provider's default per environment (from its value layers).
    pub defaults: Vec<Default>,
    /// The form's hint in an empty field: the schema's first example.
    pub placeholder: Option<String>,
}

/// One of a setting's constraints: words, and the schema's text they
/// speak of (a pattern, a format, the allowed values) shown as code.
#[derive(Debug, Clone, Serialize)]
pub struct Constraint {
    pub words: String,
    pub code: Option<String>,
}

impl Constraint {
    /// As Markdown: the words escaped, the schema's text as code.
    fn markdown(&self) -> String {
        let words = crate::report::markdown::md_escape(&self.words);
        match &self.code {
            Some(c) => format!("{words} {}", crate::report::markdown::md_code(c)),
            None => words,
        }
    }
}

/// The provider's value for one environment.
#[derive(Debug, Clone, Serialize)]
pub struct Default {
    pub env: String,
    pub value: String,
}

/// Where the form's files are and what they are called.
pub struct Names<'a> {
    /// The form's name in GitHub's "New issue" list.
    pub name: &'a str,
    /// The schema, as the manager names it.
    pub schema: &'a str,
    /// The customer's variables file.
    pub variables: &'a str,
    /// The workflow that turns an issue into a pull request.
    pub workflow: &'a str,
    /// Where the reference page is, for the form's first lines.
    pub reference: &'a str,
    /// The product, with products.
    pub product: Option<&'a str>,
}

/// The label every issue from the form gets (the workflow runs for these
/// only).
pub const LABEL: &str = "infra-change";
/// The title an issue from the form starts with.
pub const TITLE: &str = "infra: ";

fn environment() -> Environment<'static> {
    let mut env = crate::report::markdown::environment();
    // A YAML double-quoted scalar: a JSON string is one (YAML 1.2), and
    // nothing in it is read as YAML syntax.
    env.add_filter("q", |s: String| {
        let visible = crate::report::markdown::visible_block(&s);
        serde_json::to_string(&visible).unwrap_or_else(|_| "\"\"".into())
    });
    env.add_template(
        "issue-form.yml",
        include_str!("templates/form/issue-form.yml.j2"),
    )
    .expect("the embedded issue form parses");
    env.add_template(
        "reference.md",
        include_str!("templates/form/reference.md.j2"),
    )
    .expect("the embedded reference parses");
    env
}

/// The GitHub issue form for `rows`, whose issues get `label`.
pub fn issue_form(rows: &[Row], names: &Names, label: &str) -> Result<String, minijinja::Error> {
    let rows: Vec<Row> = rows.iter().map(for_github).collect();
    environment()
        .get_template("issue-form.yml")?
        .render(minijinja::context! {
            fields => minijinja::Value::from(minijinja::value::Serde(&rows)),
            name => names.name,
            schema => names.schema,
            variables => names.variables,
            workflow => names.workflow,
            reference => names.reference,
            title => TITLE,
            label => label,
            flag_true => "Set to true",
            flag_false => "Set to false",
        })
}

/// GitHub refuses an empty description ("Common validation errors when
/// creating issue forms": empty strings are not permissible): a row's
/// description and placeholder are left out when they would be empty;
/// its constraints and examples join the description.
fn for_github(row: &Row) -> Row {
    let mut row = row.clone();
    let mut said = row.description.clone().unwrap_or_default();
    if !row.constraints.is_empty() && row.control != "dropdown" {
        if !said.is_empty() {
            said.push(' ');
        }
        let each: Vec<String> = row.constraints.iter().map(Constraint::markdown).collect();
        said.push_str(&format!("Allowed: {}.", each.join("; ")));
    }
    if row.required {
        if !said.is_empty() {
            said.push(' ');
        }
        said.push_str("The file must have it.");
    }
    row.description = Some(said).filter(|s| !s.trim().is_empty());
    row.placeholder = row
        .examples
        .first()
        .cloned()
        .filter(|e| !e.trim().is_empty());
    row
}

/// The reference page of every setting.
pub fn reference(
    rows: &[Row],
    secrets: &[String],
    names: &Names,
    title: &str,
    form: Option<&str>,
) -> Result<String, minijinja::Error> {
    #[derive(Serialize)]
    struct Shown<'a> {
        #[serde(flatten)]
        row: &'a Row,
        anchor: String,
        default_short: String,
        /// Each constraint as Markdown, escaped already.
        rules: Vec<String>,
    }
    let shown: Vec<Shown> = rows
        .iter()
        .map(|row| Shown {
            anchor: anchor(&format!("`{}`", row.label)),
            default_short: short_default(&row.defaults),
            rules: row.constraints.iter().map(Constraint::markdown).collect(),
            row,
        })
        .collect();
    environment()
        .get_template("reference.md")?
        .render(minijinja::context! {
            fields => minijinja::Value::from(minijinja::value::Serde(&shown)),
            secrets => minijinja::Value::from(minijinja::value::Serde(secrets)),
            title => title,
            schema => names.schema,
            variables => names.variables,
            product => names.product,
            form => form,
        })
}

/// The provider's default in a table cell: one value for every
/// environment, or "per environment".
fn short_default(defaults: &[Default]) -> String {
    match defaults {
        [] => "none".into(),
        [first, rest @ ..] if rest.iter().all(|d| d.value == first.value) => first.value.clone(),
        _ => "per environment".into(),
    }
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, other
/// punctuation than `-` and `_` dropped.
pub fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The change form as one HTML page for a customer's browser: the same
/// fields, the YAML the answers make, and (with `issue_url`, the
/// customer's "new issue" address for the form) a link that opens the
/// same answers in the GitHub issue form. Its only script is its own,
/// inline and allowed by its hash (`Content-Security-Policy`): nothing
/// is loaded from anywhere, and nothing is sent.
pub fn html(
    rows: &[Row],
    names: &Names,
    issue_url: Option<&str>,
    repo: Option<&str>,
) -> Result<String, minijinja::Error> {
    #[derive(Serialize)]
    struct Shown<'a> {
        #[serde(flatten)]
        row: &'a Row,
        path_json: String,
        options_json: String,
    }
    let shown: Vec<Shown> = rows
        .iter()
        .map(|row| Shown {
            path_json: serde_json::to_string(&row.path).unwrap_or_default(),
            options_json: serde_json::to_string(&row.values).unwrap_or_default(),
            row,
        })
        .collect();
    let script = include_str!("templates/form/form.js");
    let hash = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(script.as_bytes()))
    };
    let mut env = crate::report::markdown::html_environment();
    env.add_template("form.html", include_str!("templates/form/form.html.j2"))?;
    env.get_template("form.html")?.render(minijinja::context! {
        fields => minijinja::Value::from(minijinja::value::Serde(&shown)),
        name => names.name,
        variables => names.variables,
        issue_url => issue_url,
        repo => repo,
        script => minijinja::Value::from_safe_string(script.to_string()),
        script_hash => format!("sha256-{hash}"),
    })
}
