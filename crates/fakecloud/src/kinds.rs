//! The four object kinds: their attributes (which make the Terraform
//! schema), how their computed attributes are chosen, and the conversion
//! between Terraform values and the cloud file's JSON.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use serde_json::Value;
use tf_provider::schema::{Attribute, AttributeConstraint, AttributeType, Block, Schema};
use tf_provider::value::ValueAny;

use crate::cloud::{self, Attributes, Objects};

/// A resource's state as Terraform sends and receives it.
pub type State = BTreeMap<String, ValueAny>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    String,
    Number,
    Bool,
    MapOfString,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Required,
    Optional,
    Computed,
}

#[derive(Debug)]
pub struct Attr {
    pub name: &'static str,
    pub ty: Ty,
    pub role: Role,
    /// A change of this attribute replaces the object (`-/+`).
    pub force_new: bool,
    /// Write-only (Terraform >= 1.11): sent from the configuration at
    /// create and update, always null in plans and states; the cloud file
    /// keeps only its SHA-256, as `<name>_sha256`.
    pub write_only: bool,
    pub doc: &'static str,
}

const fn attr(name: &'static str, ty: Ty, role: Role, doc: &'static str) -> Attr {
    Attr {
        name,
        ty,
        role,
        force_new: false,
        write_only: false,
        doc,
    }
}

const fn write_only(a: Attr) -> Attr {
    Attr {
        write_only: true,
        ..a
    }
}

const fn force_new(a: Attr) -> Attr {
    Attr {
        force_new: true,
        ..a
    }
}

const ID: Attr = attr(
    "id",
    Ty::String,
    Role::Computed,
    "Id chosen by the cloud: `<prefix>-<name>`, `-2`, `-3`… when taken.",
);
const TAGS: Attr = attr("tags", Ty::MapOfString, Role::Optional, "Free-form tags.");

#[derive(Debug)]
pub struct Kind {
    /// The resource type without the provider prefix (`network`).
    pub short: &'static str,
    /// The resource type (`fakecloud_network`), also the key prefix in the
    /// cloud file.
    pub type_name: &'static str,
    pub id_prefix: &'static str,
    pub doc: &'static str,
    pub attrs: &'static [Attr],
}

pub const NETWORK: Kind = Kind {
    short: "network",
    type_name: "fakecloud_network",
    id_prefix: "net",
    doc: "A network. Changing `cidr` replaces it.",
    attrs: &[
        ID,
        attr("name", Ty::String, Role::Required, "Name."),
        force_new(attr(
            "cidr",
            Ty::String,
            Role::Required,
            "IPv4 range, `a.b.c.d/n`. Changing it replaces the network.",
        )),
        attr("zones", Ty::Number, Role::Optional, "Number of zones."),
        TAGS,
    ],
};

pub const INSTANCE: Kind = Kind {
    short: "instance",
    type_name: "fakecloud_instance",
    id_prefix: "i",
    doc: "An instance in a network. Changing `network_id` replaces it; \
          changing `instance_type` updates it in place.",
    attrs: &[
        ID,
        attr("name", Ty::String, Role::Required, "Name."),
        force_new(attr(
            "network_id",
            Ty::String,
            Role::Required,
            "Id of the network. Changing it replaces the instance.",
        )),
        attr(
            "instance_type",
            Ty::String,
            Role::Required,
            "Instance type; updated in place.",
        ),
        attr("size", Ty::Number, Role::Optional, "Number of nodes."),
        TAGS,
        attr(
            "private_ip",
            Ty::String,
            Role::Computed,
            "Address inside the network's `cidr` (from offset 10), or in \
             10.0.0.0/16 when the network is not in the cloud file.",
        ),
    ],
};

pub const BUCKET: Kind = Kind {
    short: "bucket",
    type_name: "fakecloud_bucket",
    id_prefix: "bucket",
    doc: "A storage bucket. Changing `name` replaces it.",
    attrs: &[
        ID,
        force_new(attr(
            "name",
            Ty::String,
            Role::Required,
            "Name. Changing it replaces the bucket.",
        )),
        attr("versioning", Ty::Bool, Role::Optional, "Keep old versions."),
        TAGS,
        attr(
            "arn",
            Ty::String,
            Role::Computed,
            "`arn:fakecloud:bucket:::<name>`.",
        ),
    ],
};

pub const SECRET: Kind = Kind {
    short: "secret",
    type_name: "fakecloud_secret",
    id_prefix: "secret",
    doc: "A secret the cloud holds. `value_wo` is write-only: Terraform sends \
          it at create and update and keeps it in no plan and no state (an \
          ephemeral variable can set it); the cloud file keeps only its \
          SHA-256, `value_wo_sha256`. Changing `value_wo_version` sends the \
          value again.",
    attrs: &[
        ID,
        force_new(attr(
            "name",
            Ty::String,
            Role::Required,
            "Name. Changing it replaces the secret.",
        )),
        write_only(attr(
            "value_wo",
            Ty::String,
            Role::Optional,
            "The secret's value; write-only.",
        )),
        attr(
            "value_wo_version",
            Ty::Number,
            Role::Optional,
            "Changing it sends `value_wo` again.",
        ),
        TAGS,
    ],
};

pub const ALL: [&Kind; 4] = [&NETWORK, &INSTANCE, &BUCKET, &SECRET];

impl Ty {
    fn attribute_type(self) -> AttributeType {
        match self {
            Ty::String => AttributeType::String,
            Ty::Number => AttributeType::Number,
            Ty::Bool => AttributeType::Bool,
            Ty::MapOfString => AttributeType::Map(Box::new(AttributeType::String)),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Ty::String => "a string",
            Ty::Number => "a whole number",
            Ty::Bool => "true or false",
            Ty::MapOfString => "an object of strings",
        }
    }

    /// A value of the cloud file as a Terraform value, checked against the
    /// type (a test that edits the file gets a clear error, not a protocol
    /// failure).
    fn value_of(self, v: &Value) -> Option<ValueAny> {
        Some(match (self, v) {
            (_, Value::Null) => ValueAny::Null,
            (Ty::String, Value::String(s)) => ValueAny::String(s.clone()),
            (Ty::Number, Value::Number(n)) => ValueAny::Number(n.as_i64()?),
            (Ty::Bool, Value::Bool(b)) => ValueAny::Bool(*b),
            (Ty::MapOfString, Value::Object(m)) => ValueAny::Map(
                m.iter()
                    .map(|(k, v)| Some((k.clone(), Ty::String.value_of(v)?)))
                    .collect::<Option<_>>()?,
            ),
            _ => return None,
        })
    }
}

/// A known Terraform value as JSON; `None` for an unknown one.
pub fn to_json(v: &ValueAny) -> Option<Value> {
    Some(match v {
        ValueAny::String(s) => Value::String(s.clone()),
        ValueAny::Number(n) => Value::from(*n),
        ValueAny::Bool(b) => Value::Bool(*b),
        ValueAny::List(l) => Value::Array(l.iter().map(to_json).collect::<Option<_>>()?),
        ValueAny::Map(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Some((k.clone(), to_json(v)?)))
                .collect::<Option<_>>()?,
        ),
        ValueAny::Null => Value::Null,
        ValueAny::Unknown => return None,
    })
}

/// A string attribute of a state, if known and set.
pub fn string(state: &State, name: &str) -> Option<String> {
    match state.get(name) {
        Some(ValueAny::String(s)) => Some(s.clone()),
        _ => None,
    }
}

impl Kind {
    pub fn schema(&self) -> Schema {
        let attributes = self
            .attrs
            .iter()
            .map(|a| {
                let constraint = match a.role {
                    Role::Required => AttributeConstraint::Required,
                    Role::Optional => AttributeConstraint::Optional,
                    Role::Computed => AttributeConstraint::Computed,
                };
                let attribute = Attribute {
                    attr_type: a.ty.attribute_type(),
                    description: a.doc.into(),
                    constraint,
                    sensitive: a.write_only,
                    write_only: a.write_only,
                    ..Default::default()
                };
                (a.name.to_string(), attribute)
            })
            .collect();
        Schema {
            version: 0,
            block: Block {
                version: 0,
                attributes,
                description: self.doc.into(),
                ..Default::default()
            },
        }
    }

    pub fn key(&self, id: &str) -> String {
        cloud::key(self.type_name, id)
    }

    /// The planned state of a new object: computed attributes unknown,
    /// write-only ones null.
    pub fn plan_new(&self, mut proposed: State) -> State {
        for a in self.attrs.iter().filter(|a| a.role == Role::Computed) {
            proposed.insert(a.name.to_string(), ValueAny::Unknown);
        }
        self.forget_write_only(proposed)
    }

    /// `state` with every write-only attribute null: Terraform refuses a
    /// plan or a new state that holds one.
    pub fn forget_write_only(&self, mut state: State) -> State {
        for a in self.attrs.iter().filter(|a| a.write_only) {
            state.insert(a.name.to_string(), ValueAny::Null);
        }
        state
    }

    /// What the cloud keeps of the write-only values of `config`: the
    /// SHA-256 of each one set, as `<name>_sha256`.
    pub fn written(&self, config: &State) -> Vec<(String, Value)> {
        use sha2::Digest as _;
        self.attrs
            .iter()
            .filter(|a| a.write_only)
            .filter_map(|a| {
                let v = string(config, a.name)?;
                let digest = sha2::Sha256::digest(v.as_bytes());
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                Some((format!("{}_sha256", a.name), Value::String(hex)))
            })
            .collect()
    }

    /// The attributes whose change replaces the object.
    pub fn replaced_by(&self, prior: &State, proposed: &State) -> Vec<&'static str> {
        self.attrs
            .iter()
            .filter(|a| a.force_new && prior.get(a.name) != proposed.get(a.name))
            .map(|a| a.name)
            .collect()
    }

    /// The state of the object stored under `id`, as the cloud file has it.
    pub fn state_of(&self, id: &str, stored: &Attributes) -> Result<State> {
        let mut state = State::new();
        for a in self.attrs {
            let v = if a.name == "id" {
                ValueAny::String(id.to_string())
            } else if a.write_only {
                ValueAny::Null
            } else {
                let raw = stored.get(a.name).unwrap_or(&Value::Null);
                match a.ty.value_of(raw) {
                    Some(v) => v,
                    None => bail!(
                        "{}.{} is {raw} in the cloud file; it must be {} (or null)",
                        self.key(id),
                        a.name,
                        a.ty.describe()
                    ),
                }
            };
            state.insert(a.name.to_string(), v);
        }
        Ok(state)
    }

    /// The attributes to store for a state (every schema attribute).
    pub fn stored(&self, state: &State) -> Result<Attributes> {
        self.attrs
            .iter()
            .map(|a| {
                let v = state.get(a.name).unwrap_or(&ValueAny::Null);
                match to_json(v) {
                    Some(j) => Ok((a.name.to_string(), j)),
                    None => bail!("{} is still unknown at apply time", a.name),
                }
            })
            .collect()
    }

    /// Fills the computed attributes of a new object from the cloud as it
    /// is now, and returns its id.
    pub fn assign_computed(&self, state: &mut State, objects: &Objects) -> String {
        let name = string(state, "name").unwrap_or_default();
        let id = self.free_id(&name, objects);
        state.insert("id".into(), ValueAny::String(id.clone()));
        if self.type_name == INSTANCE.type_name {
            let network = string(state, "network_id").unwrap_or_default();
            let ip = free_ip(&network, objects);
            state.insert("private_ip".into(), ValueAny::String(ip));
        }
        if self.type_name == BUCKET.type_name {
            let arn = format!("arn:fakecloud:bucket:::{name}");
            state.insert("arn".into(), ValueAny::String(arn));
        }
        id
    }

    /// `<prefix>-<slug of name>`, then `-2`, `-3`… while that is taken.
    fn free_id(&self, name: &str, objects: &Objects) -> String {
        let slug: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let base = format!("{}-{slug}", self.id_prefix);
        let mut id = base.clone();
        let mut n = 1;
        while objects.contains_key(&self.key(&id)) {
            n += 1;
            id = format!("{base}-{n}");
        }
        id
    }

    /// An error for a known, malformed attribute of a configuration.
    pub fn validate(&self, config: &State) -> Option<(&'static str, String)> {
        if self.type_name != NETWORK.type_name {
            return None;
        }
        let cidr = string(config, "cidr")?;
        if parse_cidr(&cidr).is_some() {
            return None;
        }
        Some((
            "cidr",
            format!("{cidr:?} is not an IPv4 range like 10.0.0.0/16"),
        ))
    }
}

/// `a.b.c.d/n` as (network address, prefix length).
pub fn parse_cidr(cidr: &str) -> Option<(u32, u32)> {
    let (addr, len) = cidr.split_once('/')?;
    let len: u32 = len.parse().ok().filter(|l| *l <= 32)?;
    let addr: std::net::Ipv4Addr = addr.parse().ok()?;
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Some((u32::from(addr) & mask, len))
}

/// The lowest free address at offset 10 or more in the network's range
/// (10.0.0.0/16 when the network is not in the cloud file).
fn free_ip(network_id: &str, objects: &Objects) -> String {
    let cidr = objects
        .get(&NETWORK.key(network_id))
        .and_then(|n| n.get("cidr"))
        .and_then(Value::as_str)
        .and_then(parse_cidr)
        .unwrap_or((u32::from(std::net::Ipv4Addr::new(10, 0, 0, 0)), 16));
    let (base, len) = cidr;
    let room = if len >= 32 { 1 } else { 1u64 << (32 - len) };
    let used: std::collections::BTreeSet<&str> = objects
        .iter()
        .filter(|(k, o)| {
            k.starts_with("fakecloud_instance/")
                && o.get("network_id").and_then(Value::as_str) == Some(network_id)
        })
        .filter_map(|(_, o)| o.get("private_ip").and_then(Value::as_str))
        .collect();
    let pick = (10..room.max(11))
        .map(|off| std::net::Ipv4Addr::from(base.wrapping_add(off as u32)).to_string())
        .find(|ip| !used.contains(ip.as_str()));
    // A full network: hand out its first address again rather than fail.
    pick.unwrap_or_else(|| std::net::Ipv4Addr::from(base).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Attributes {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn ids_come_from_the_name_and_never_collide() {
        let mut objects = Objects::new();
        let mut s = State::from([("name".into(), ValueAny::String("Web 1".into()))]);
        let id = NETWORK.assign_computed(&mut s, &objects);
        assert_eq!(id, "net-web-1");
        objects.insert(NETWORK.key(&id), Attributes::new());
        assert_eq!(NETWORK.assign_computed(&mut s, &objects), "net-web-1-2");
        assert_eq!(BUCKET.assign_computed(&mut s, &objects), "bucket-web-1");
        assert_eq!(
            s.get("arn"),
            Some(&ValueAny::String("arn:fakecloud:bucket:::Web 1".into()))
        );
    }

    #[test]
    fn private_ips_are_free_addresses_in_the_network() {
        let mut objects = Objects::new();
        objects.insert(NETWORK.key("net-a"), obj(json!({"cidr": "10.9.8.0/24"})));
        objects.insert(
            INSTANCE.key("i-x"),
            obj(json!({"network_id": "net-a", "private_ip": "10.9.8.10"})),
        );
        assert_eq!(free_ip("net-a", &objects), "10.9.8.11");
        assert_eq!(free_ip("net-missing", &objects), "10.0.0.10");
        objects.insert(NETWORK.key("net-b"), obj(json!({"cidr": "192.168.1.1/32"})));
        assert_eq!(free_ip("net-b", &objects), "192.168.1.11");
    }

    #[test]
    fn cloud_values_are_checked_against_the_schema() {
        let stored = obj(json!({"name": "a", "cidr": "10.0.0.0/8", "zones": 3,
                               "tags": {"team": "x"}}));
        let s = NETWORK.state_of("net-a", &stored).unwrap();
        assert_eq!(s["zones"], ValueAny::Number(3));
        assert_eq!(s["id"], ValueAny::String("net-a".into()));
        assert_eq!(NETWORK.stored(&s).unwrap()["tags"], json!({"team": "x"}));
        let bad = obj(json!({"name": "a", "zones": "three"}));
        let err = NETWORK.state_of("net-a", &bad).unwrap_err().to_string();
        assert!(
            err.contains("fakecloud_network/net-a.zones is \"three\""),
            "{err}"
        );
        assert!(err.contains("a whole number"), "{err}");
    }

    #[test]
    fn only_force_new_attributes_replace() {
        let prior = State::from([
            ("name".into(), ValueAny::String("a".into())),
            ("cidr".into(), ValueAny::String("10.0.0.0/16".into())),
        ]);
        let mut renamed = prior.clone();
        renamed.insert("name".into(), ValueAny::String("b".into()));
        assert!(NETWORK.replaced_by(&prior, &renamed).is_empty());
        let mut moved = prior.clone();
        moved.insert("cidr".into(), ValueAny::Unknown);
        assert_eq!(NETWORK.replaced_by(&prior, &moved), ["cidr"]);
        assert_eq!(BUCKET.replaced_by(&prior, &renamed), ["name"]);
    }

    #[test]
    fn cidrs_are_parsed_strictly() {
        assert_eq!(parse_cidr("10.1.2.3/16"), Some((0x0a01_0000, 16)));
        assert_eq!(parse_cidr("0.0.0.0/0"), Some((0, 0)));
        for bad in ["10.0.0.0", "10.0.0.0/33", "10.0.0/8", "x/8"] {
            assert_eq!(parse_cidr(bad), None, "{bad}");
        }
    }
}
