//! Template strings in layered values, rendered in place.

use serde_json::Value;

use super::{unknown_origin, TemplateContext};
use crate::data::Diagnostic;
use crate::values::layers::Layered;
use crate::values::template::{is_template, TemplateMemo};
use fleetform_yaml::escape_token;

/// Renders every template string in `v` (`ptr` is its pointer) with
/// `ctx`; a template that fails leaves a diagnostic at its origin.
pub(super) fn render_strings(
    v: &mut Value,
    ptr: &mut String,
    ctx: &TemplateContext,
    templates: &mut TemplateMemo<'_, TemplateContext>,
    layered: &Layered,
    diags: &mut Vec<Diagnostic>,
) {
    match v {
        Value::String(s) if is_template(s) => match templates.render(s, ctx) {
            Ok(out) => *s = out,
            Err(e) => {
                // Not a rendered value: the credential scan that follows
                // must not take the source for one.
                s.clear();
                diags.push(Diagnostic {
                    location: layered
                        .origin(ptr)
                        .map(|o| o.location)
                        .unwrap_or_else(unknown_origin),
                    pointer: Some(ptr.clone()),
                    message: e.0,
                });
            }
        },
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                let len = ptr.len();
                ptr.push('/');
                ptr.push_str(&escape_token(k));
                render_strings(child, ptr, ctx, templates, layered, diags);
                ptr.truncate(len);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter_mut().enumerate() {
                let len = ptr.len();
                ptr.push_str(&format!("/{i}"));
                render_strings(child, ptr, ctx, templates, layered, diags);
                ptr.truncate(len);
            }
        }
        _ => {}
    }
}
