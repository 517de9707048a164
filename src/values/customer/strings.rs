//! Template strings in layered values, rendered in place, and what they
//! rendered judged for credentials.

use serde_json::Value;

use super::{unknown_origin, TemplateContext};
use crate::data::Diagnostic;
use crate::values::layers::Layered;
use crate::values::secrets::{self, pointer_of, Finding, Spot, Step};
use crate::values::template::{is_template, TemplateMemo};

/// Renders the template strings of one layered value.
pub(super) struct Strings<'a, 't> {
    pub ctx: &'a TemplateContext,
    pub templates: &'a mut TemplateMemo<'t, TemplateContext>,
    pub layered: &'a Layered,
    /// A diagnostic at its origin for each template that fails.
    pub diags: Vec<Diagnostic>,
    /// The credentials in what the templates rendered. Only those: every
    /// other string and every key is in the value as its file wrote it,
    /// and was judged there the same way (`check` and
    /// `ManagerLayers::load` refuse a file that holds one).
    pub found: Vec<Finding>,
}

impl Strings<'_, '_> {
    /// Renders every template string in `v` (`path` leads to it from the
    /// root, `key` is the nearest mapping key above it). The pointer is
    /// written only for a finding or a failure: most strings are no
    /// template, and most templates render clean.
    pub fn render<'v>(&mut self, v: &'v mut Value, path: &mut Vec<Step<'v>>, key: Option<&str>) {
        match v {
            Value::String(s) if is_template(s) => match self.templates.render(s, self.ctx) {
                Ok(out) => {
                    if let Some(what) = secrets::judge_rendered(&out, key) {
                        self.found.push(Finding {
                            pointer: pointer_of(path),
                            spot: Spot::Rendered,
                            what,
                        });
                    }
                    *s = out;
                }
                Err(e) => {
                    // Not a rendered value: nothing reads the source as one.
                    s.clear();
                    let ptr = pointer_of(path);
                    self.diags.push(Diagnostic {
                        location: self
                            .layered
                            .origin(&ptr)
                            .map(|o| o.location)
                            .unwrap_or_else(unknown_origin),
                        pointer: Some(ptr),
                        message: e.0,
                    });
                }
            },
            Value::Object(m) => {
                for (k, child) in m.iter_mut() {
                    path.push(Step::Key(k));
                    self.render(child, path, Some(k));
                    path.pop();
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter_mut().enumerate() {
                    path.push(Step::Item(i));
                    self.render(child, path, key);
                    path.pop();
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::template::ValueTemplates;

    /// Property: for values whose every string and key, as written, holds
    /// no credential (what `check` and the manager's load let through),
    /// judging only what the templates rendered finds exactly what a scan
    /// of the whole rendered value finds, in the same order.
    #[test]
    fn rendered_strings_alone_find_what_the_whole_scan_finds() {
        let token = format!("ghp_{}", "a1B2".repeat(9));
        let pieces = [
            "plain".to_string(),
            "Zq8vR2mK9pL4wX7tY6".to_string(),
            "{{ customer }}".to_string(),
            format!("{{{{ '{}' }}}}", &token[..20]) + &token[20..],
            "{{ 'Zq8vR2mK9' ~ 'pL4wX7tY6' }}".to_string(),
            "{{ undefined_name }}".to_string(),
            "{{ customer }}-Zq8vR2mK9pL4wX7tY6".to_string(),
        ];
        let keys = ["name", "db_password", "api_token", "region", "list"];
        let mut rng = fastrand::Rng::with_seed(0x5eed_0003_u64);
        let mut next = |n: usize| rng.usize(..n);
        let templates = ValueTemplates::default();
        let ctx = TemplateContext {
            customer: "acme".into(),
            environment: "staging".into(),
            project_name: None,
            repo: None,
        };
        let (mut judged, mut with_findings) = (0, 0);
        for _ in 0..2000 {
            let mut value = serde_json::Map::new();
            for _ in 0..next(5) {
                let v = Value::String(pieces[next(pieces.len())].clone());
                let v = match next(3) {
                    0 => v,
                    1 => Value::Array(vec![v, Value::from(1)]),
                    _ => Value::Object(serde_json::Map::from_iter([(
                        keys[next(keys.len())].to_string(),
                        Value::Array(vec![v]),
                    )])),
                };
                value.insert(keys[next(keys.len())].to_string(), v);
            }
            let mut value = Value::Object(value);
            if !secrets::scan(&value).is_empty() {
                continue;
            }
            judged += 1;
            let layered = Layered::new();
            let mut strings = Strings {
                ctx: &ctx,
                templates: &mut TemplateMemo::new(&templates),
                layered: &layered,
                diags: Vec::new(),
                found: Vec::new(),
            };
            strings.render(&mut value, &mut Vec::new(), None);
            let found = strings.found;
            assert_eq!(found, secrets::scan_rendered(&value), "{value}");
            with_findings += usize::from(!found.is_empty());
        }
        assert!(judged > 500, "only {judged} values were clean as written");
        assert!(
            with_findings > 100,
            "only {with_findings} rendered a credential"
        );
    }
}
