//! Which products a customer enables: the manager allows (every product,
//! or the registry entry's `products:`), the customer picks among them in
//! `infra/products.yml`:
//!
//! ```yaml
//! products: [network, app]
//! ```
//!
//! Without the file a customer gets every product it is allowed. A product
//! that is unknown, not allowed, listed twice, or enabled without a product
//! it needs is an error at its position in the file.

use std::path::Path;

use serde_json::Value;

use crate::config::{display_path, Customer, Manager, PRODUCTS_FILE};
use crate::data::Diagnostic;
use fleetform_yaml::{self as yaml, Limits, Location};

/// The customer's products, in the order they run (dependencies first).
/// `file` is the customer's `infra/products.yml` (shown path and bytes)
/// when it exists. A manager without products has none.
pub fn enabled(
    manager: &Manager,
    customer: &Customer,
    file: Option<(&Path, &[u8])>,
) -> Result<Vec<String>, Vec<Diagnostic>> {
    if !manager.has_products() {
        return Ok(Vec::new());
    }
    let allowed: Vec<String> = match &customer.products {
        Some(list) => list.clone(),
        None => manager
            .product_names()
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    let chosen = match file {
        None => allowed,
        Some((shown, bytes)) => pick(manager, customer, &allowed, shown, bytes)?,
    };
    Ok(manager
        .products()
        .into_iter()
        .filter_map(|v| v.product)
        .filter(|p| chosen.contains(p))
        .collect())
}

/// Reads the customer's list and checks every entry.
fn pick(
    manager: &Manager,
    customer: &Customer,
    allowed: &[String],
    shown: &Path,
    bytes: &[u8],
) -> Result<Vec<String>, Vec<Diagnostic>> {
    let doc = yaml::load_bytes(bytes, shown, &Limits::default()).map_err(|e| {
        vec![Diagnostic {
            location: e.location.clone(),
            pointer: None,
            message: e.message,
        }]
    })?;
    let at = |pointer: &str, message: String| Diagnostic {
        location: doc.locate(pointer),
        pointer: Some(pointer.to_string()),
        message,
    };
    let list = match &doc.value {
        Value::Object(map) if map.len() == 1 && map.contains_key("products") => &map["products"],
        _ => {
            return Err(vec![at(
                "",
                "must be a mapping with one key, `products:`, listing the products to enable"
                    .into(),
            )])
        }
    };
    let Some(items) = list.as_array() else {
        return Err(vec![at(
            "/products",
            "must be a list of product names".into(),
        )]);
    };
    let known = manager.product_names();
    let mut diags = Vec::new();
    let mut chosen: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let pointer = format!("/products/{i}");
        let Some(name) = item.as_str() else {
            diags.push(at(&pointer, "must be a product name".into()));
            continue;
        };
        if !known.contains(&name) {
            diags.push(at(
                &pointer,
                format!(
                    "unknown product `{name}`; the manager offers: {}",
                    known.join(", ")
                ),
            ));
        } else if !allowed.iter().any(|a| a == name) {
            diags.push(at(
                &pointer,
                format!(
                    "product `{name}` is not enabled for customer `{}` by the manager (ask your provider; it may enable: {})",
                    customer.slug,
                    allowed.join(", ")
                ),
            ));
        } else if chosen.iter().any(|c| c == name) {
            diags.push(at(&pointer, format!("product `{name}` is listed twice")));
        } else {
            chosen.push(name.to_string());
        }
    }
    for (i, item) in items.iter().enumerate() {
        let Some(view) = item.as_str().and_then(|n| manager.product(n)) else {
            continue;
        };
        for dep in view.needs().keys() {
            if !chosen.contains(dep) {
                diags.push(at(
                    &format!("/products/{i}"),
                    format!(
                        "product `{}` needs `{dep}` (it consumes its outputs); enable `{dep}` too",
                        item.as_str().unwrap_or_default()
                    ),
                ));
            }
        }
    }
    if diags.is_empty() {
        Ok(chosen)
    } else {
        Err(diags)
    }
}

/// Reads `infra/products.yml` from a local checkout, if it is there.
pub fn read_local(dir: &Path) -> Result<Option<(std::path::PathBuf, Vec<u8>)>, Diagnostic> {
    let rel = Path::new(PRODUCTS_FILE);
    let shown = display_path(&dir.join(rel));
    let limit = Limits::default().max_bytes as u64;
    match crate::util::fs::read_under(dir, rel, limit) {
        Ok(b) => Ok(Some((shown, b))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Diagnostic {
            location: Location {
                file: shown,
                pos: yaml::Pos { line: 1, col: 1 },
            },
            pointer: None,
            message: format!("cannot read the customer's products file: {}", e.reason),
        }),
    }
}
