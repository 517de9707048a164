//! What a product takes from the products it needs: their outputs, read
//! through Terraform (`output -json` in a working copy holding only the
//! needed product's backend, so no provider is installed), for the same
//! customer × environment, passed to the product as variables.
//!
//! Customer files never set these variables (a customer value for one is an
//! error), sensitive outputs are never passed (they would land in the var
//! file and the saved plan), and a missing output (the needed product not
//! applied there yet) stops the plan with what to do.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::config::Manager;
use crate::terraform::{Terraform, TerraformError, Workspace};

/// Why the needed outputs could not be passed.
#[derive(Debug, thiserror::Error)]
pub enum NeedsError {
    /// The needed product has not been applied here yet.
    #[error("{0}")]
    Waiting(String),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Terraform(#[from] TerraformError),
}

/// One needed product: its view and this product's variable → its output.
#[derive(Debug, Clone)]
pub struct Need {
    pub view: Manager,
    pub vars: BTreeMap<String, String>,
}

impl Need {
    fn name(&self) -> &str {
        self.view.product.as_deref().unwrap_or_default()
    }
}

/// The needs of a product view, each with the needed product's view.
pub fn of(manager: &Manager) -> Vec<Need> {
    manager
        .needs()
        .into_iter()
        .filter_map(|(dep, vars)| manager.product(&dep).map(|view| Need { view, vars }))
        .collect()
}

/// The values passed in: variable → value, and variable → where from.
#[derive(Debug, Default)]
pub struct Inputs {
    pub values: BTreeMap<String, Value>,
    pub sources: BTreeMap<String, String>,
}

impl Inputs {
    /// SHA-256 of the values as canonical JSON (sorted keys).
    pub fn digest(&self) -> String {
        let bytes = serde_json::to_vec(&self.values).expect("JSON values serialise");
        crate::util::fs::sha256_bytes(&bytes)
    }
}

/// Reads every need's outputs for customer × environment; working copies
/// go under `scratch` and are removed after.
pub fn read(
    tf: &Terraform,
    needs: &[Need],
    customer: &str,
    env: &str,
    scratch: &Path,
) -> Result<Inputs, NeedsError> {
    let mut inputs = Inputs::default();
    for need in needs {
        let mut ws = Workspace::backend_only(&need.view, scratch, customer, env)?;
        tf.init_backend(&mut ws)?;
        let outputs = tf.outputs(&mut ws)?;
        for (var, output) in &need.vars {
            let value = pick(&outputs, need.name(), output, customer, env)?;
            inputs.values.insert(var.clone(), value);
            inputs
                .sources
                .insert(var.clone(), format!("{}.{output}", need.name()));
        }
    }
    Ok(inputs)
}

/// One output's value, refusing a missing or sensitive one.
fn pick(
    outputs: &serde_json::Map<String, Value>,
    product: &str,
    output: &str,
    customer: &str,
    env: &str,
) -> Result<Value, NeedsError> {
    let Some(o) = outputs.get(output) else {
        return Err(NeedsError::Waiting(format!(
            "waits for `{product}` to be applied for {customer}/{env} (it has no output `{output}` yet; or check the output's name in `needs:`)"
        )));
    };
    if o.get("sensitive").and_then(Value::as_bool) == Some(true) {
        return Err(NeedsError::Refused(format!(
            "output `{output}` of product `{product}` is sensitive; fleetform does not pass sensitive outputs (they would be written to the var file and the saved plan): read the secret where it is kept instead"
        )));
    }
    Ok(o.get("value").cloned().unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_sensitive_outputs_are_refused() {
        let outputs: serde_json::Map<String, Value> = serde_json::from_str(
            r#"{"id":{"sensitive":false,"type":"string","value":"net-1"},"secret":{"sensitive":true,"type":"string","value":"s3cr3t"}}"#,
        )
        .unwrap();
        assert_eq!(
            pick(&outputs, "network", "id", "acme", "staging").unwrap(),
            "net-1"
        );
        let e = pick(&outputs, "network", "secret", "acme", "staging").unwrap_err();
        assert!(
            e.to_string().contains("sensitive") && !e.to_string().contains("s3cr3t"),
            "{e}"
        );
        let e = pick(&outputs, "network", "cidr", "acme", "staging").unwrap_err();
        assert!(
            e.to_string()
                .contains("waits for `network` to be applied for acme/staging"),
            "{e}"
        );
    }
}
