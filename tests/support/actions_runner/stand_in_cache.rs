//! `actions/cache/restore` and `actions/cache/save` (actions/cache v4:
//! its README's "Cache keys" and "Cache scopes", and the restore and save
//! READMEs): a cache is kept under its key, immutable once saved (a save
//! under a key that exists only warns, "Unable to reserve cache"); a
//! restore takes the exact key (`cache-hit: true`), else the newest cache
//! whose key starts with one of `restore-keys`, in their order. `path`
//! is a folder or a file, kept relative to the workspace and restored
//! there. Caches here are the repository's, not scoped to a branch.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::steps::JobCx;

/// A saved cache: its key and where its files are kept.
#[derive(Debug, Clone)]
pub struct Cache {
    pub key: String,
    pub dir: PathBuf,
}

pub(super) fn restore(
    cx: &mut JobCx,
    input: &dyn Fn(&str) -> String,
) -> Result<BTreeMap<String, String>, String> {
    let key = key(input)?;
    let caches = &cx.runner.caches;
    let exact = caches.iter().rev().find(|c| c.key == key);
    let prefixes: Vec<String> = input("restore-keys")
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let matched = exact.cloned().or_else(|| {
        prefixes.iter().find_map(|p| {
            caches
                .iter()
                .rev()
                .find(|c| c.key.starts_with(p.as_str()))
                .cloned()
        })
    });
    let mut out = BTreeMap::from([("cache-primary-key".to_string(), key.clone())]);
    let Some(found) = matched else {
        cx.log.push_str(&format!(
            "Cache not found for input keys: {key}{}\n",
            prefixes
                .iter()
                .map(|p| format!(", {p}"))
                .collect::<String>()
        ));
        out.insert("cache-hit".into(), "false".into());
        return Ok(out);
    };
    // The cache holds its paths relative to the workspace (the action
    // archives them so), and restores them there.
    super::stand_ins::copy_tree(&found.dir, &cx.workspace);
    cx.log
        .push_str(&format!("Cache restored from key: {}\n", found.key));
    out.insert("cache-hit".into(), (found.key == key).to_string());
    out.insert("cache-matched-key".into(), found.key);
    Ok(out)
}

pub(super) fn save(
    cx: &mut JobCx,
    input: &dyn Fn(&str) -> String,
) -> Result<BTreeMap<String, String>, String> {
    let key = key(input)?;
    let from = cx.workspace.join(input("path").trim());
    if !from.exists() {
        cx.log.push_str("::warning::Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved.\n");
        return Ok(BTreeMap::new());
    }
    if cx.runner.caches.iter().any(|c| c.key == key) {
        cx.log.push_str(&format!("::warning::Failed to save: Unable to reserve cache with key {key}, another job may be creating this cache.\n"));
        return Ok(BTreeMap::new());
    }
    let dir = cx
        .runner
        .dir()
        .join(format!("cache-{}", cx.runner.caches.len()));
    let to = dir.join(input("path").trim());
    if from.is_file() {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    } else {
        std::fs::create_dir_all(&to).unwrap();
        super::stand_ins::copy_tree(&from, &to);
    }
    cx.log.push_str(&format!("Cache saved with key: {key}\n"));
    cx.runner.caches.push(Cache { key, dir });
    Ok(BTreeMap::new())
}

/// The `key` input, which both actions require.
fn key(input: &dyn Fn(&str) -> String) -> Result<String, String> {
    Some(input("key"))
        .filter(|k| !k.is_empty())
        .ok_or_else(|| "Input required and not supplied: key".into())
}
