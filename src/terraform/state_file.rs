//! A Terraform state file as bytes read from its backend (a version of an
//! S3 object, a local file or its backup): its serial and lineage, the
//! addresses of its resource instances, and what changes between two of
//! them (the preview of a restore). Read as JSON with no trust: a state
//! that is not one says so instead of being read as empty.

use std::collections::BTreeMap;

use serde_json::Value;

/// One state, read.
#[derive(Debug, Clone, PartialEq)]
pub struct StateFile {
    pub serial: u64,
    pub lineage: String,
    /// Each resource instance's address and its object as stored.
    pub instances: BTreeMap<String, Value>,
}

/// What a state is when its bytes are not a Terraform state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Terraform state: {0}")]
pub struct NotAState(pub String);

/// What changes from one state to another, by address.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StateChanges {
    /// In the other state only.
    pub appear: Vec<String>,
    /// In this state only.
    pub disappear: Vec<String>,
    /// In both, stored differently.
    pub change: Vec<String>,
}

impl StateChanges {
    pub fn is_empty(&self) -> bool {
        self.appear.is_empty() && self.disappear.is_empty() && self.change.is_empty()
    }
}

impl StateFile {
    /// Reads `bytes` as a state (format version 4, Terraform's since 0.12).
    pub fn parse(bytes: &[u8]) -> Result<StateFile, NotAState> {
        let json: Value = serde_json::from_slice(bytes)
            .map_err(|e| NotAState(format!("it is not JSON ({e})")))?;
        let version = json.get("version").and_then(Value::as_u64);
        if version != Some(4) {
            return Err(NotAState(format!(
                "its format version is {}, not 4",
                version.map_or("missing".into(), |v| v.to_string())
            )));
        }
        let serial = json
            .get("serial")
            .and_then(Value::as_u64)
            .ok_or_else(|| NotAState("it has no serial".into()))?;
        let lineage = json
            .get("lineage")
            .and_then(Value::as_str)
            .filter(|l| !l.is_empty())
            .ok_or_else(|| NotAState("it has no lineage".into()))?
            .to_string();
        let resources = match json.get("resources") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(r)) => r.clone(),
            Some(_) => return Err(NotAState("its resources are not a list".into())),
        };
        let mut instances = BTreeMap::new();
        for r in &resources {
            for (address, object) in instances_of(r)? {
                instances.insert(address, object);
            }
        }
        Ok(StateFile {
            serial,
            lineage,
            instances,
        })
    }

    /// What changes when `other` replaces this state.
    pub fn changes_to(&self, other: &StateFile) -> StateChanges {
        let mut c = StateChanges::default();
        for (a, obj) in &other.instances {
            match self.instances.get(a) {
                None => c.appear.push(a.clone()),
                Some(mine) if mine != obj => c.change.push(a.clone()),
                Some(_) => {}
            }
        }
        c.disappear = self
            .instances
            .keys()
            .filter(|a| !other.instances.contains_key(*a))
            .cloned()
            .collect();
        c
    }
}

/// `bytes` with its serial set to `serial` and nothing else changed: the
/// restored state as its backend takes it, newer than the one it replaces.
pub fn with_serial(bytes: &[u8], serial: u64) -> Result<Vec<u8>, NotAState> {
    let mut json: serde_json::Map<String, Value> = serde_json::from_slice(bytes)
        .map_err(|e| NotAState(format!("it is not a JSON object ({e})")))?;
    json.insert("serial".into(), Value::from(serial));
    Ok(serde_json::to_vec_pretty(&json).expect("JSON serialises"))
}

/// The instances of one resource entry: address and stored object.
fn instances_of(r: &Value) -> Result<Vec<(String, Value)>, NotAState> {
    let field = |k: &str| r.get(k).and_then(Value::as_str);
    let (Some(mode), Some(kind), Some(name)) = (field("mode"), field("type"), field("name")) else {
        return Err(NotAState("a resource lacks its mode, type or name".into()));
    };
    let mut base = String::new();
    if let Some(m) = field("module").filter(|m| !m.is_empty()) {
        base.push_str(m);
        base.push('.');
    }
    if mode == "data" {
        base.push_str("data.");
    }
    base.push_str(&format!("{kind}.{name}"));
    let instances = r
        .get("instances")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(instances
        .into_iter()
        .map(|i| {
            let key = match i.get("index_key") {
                Some(Value::Number(n)) => format!("[{n}]"),
                Some(Value::String(s)) => format!("[{}]", Value::String(s.clone())),
                _ => String::new(),
            };
            (format!("{base}{key}"), i)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(serial: u64, resources: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "version": 4, "terraform_version": "1.11.4", "serial": serial,
            "lineage": "l-1", "outputs": {}, "resources": resources
        }))
        .unwrap()
    }

    fn bucket(name: &str, versioning: bool) -> Value {
        serde_json::json!({"mode": "managed", "type": "fakecloud_bucket", "name": name,
            "provider": "p", "instances": [{"schema_version": 0,
            "attributes": {"name": name, "versioning": versioning}}]})
    }

    #[test]
    fn a_restore_says_what_appears_disappears_and_changes() {
        let now = StateFile::parse(&state(
            7,
            serde_json::json!([bucket("a", true), bucket("b", true)]),
        ))
        .unwrap();
        let counted = serde_json::json!({"mode": "managed", "type": "fakecloud_bucket", "name": "c",
            "module": "module.net", "instances": [{"index_key": 0, "attributes": {}},
            {"index_key": "x", "attributes": {}}]});
        let then =
            StateFile::parse(&state(5, serde_json::json!([bucket("a", false), counted]))).unwrap();
        assert_eq!((then.serial, then.lineage.as_str()), (5, "l-1"));
        let c = now.changes_to(&then);
        assert_eq!(
            c.appear,
            [
                "module.net.fakecloud_bucket.c[\"x\"]",
                "module.net.fakecloud_bucket.c[0]"
            ]
        );
        assert_eq!(c.disappear, ["fakecloud_bucket.b"]);
        assert_eq!(c.change, ["fakecloud_bucket.a"]);
        assert!(now.changes_to(&now).is_empty());
    }

    #[test]
    fn bytes_that_are_not_a_state_say_why() {
        for (bytes, why) in [
            (&b"{\"version\": 4, \"serial\": 1"[..], "not JSON"),
            (br#"{"version": 3, "serial": 1, "lineage": "l"}"#, "format version is 3"),
            (br#"{"version": 4, "lineage": "l"}"#, "no serial"),
            (br#"{"version": 4, "serial": 1, "lineage": ""}"#, "no lineage"),
            (br#"{"version": 4, "serial": 1, "lineage": "l", "resources": [{"mode": "managed"}]}"#, "lacks"),
        ] {
            let e = StateFile::parse(bytes).unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
        }
    }

    #[test]
    fn a_new_serial_changes_nothing_else() {
        let old = state(3, serde_json::json!([bucket("a", true)]));
        let new = with_serial(&old, 9).unwrap();
        let (a, b) = (
            StateFile::parse(&old).unwrap(),
            StateFile::parse(&new).unwrap(),
        );
        assert_eq!(b.serial, 9);
        assert_eq!((a.lineage, a.instances), (b.lineage, b.instances));
    }
}
