//! One problem in a file fleetform reads, with the YAML location it points
//! into: what `validate`, `plan` and the reports show. Plain data.

use std::fmt;

use serde::Serialize;

use fleetform_yaml::Location;

/// One problem in a customer's (or manager's) values, with its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    #[serde(serialize_with = "ser_loc")]
    pub location: Location,
    pub pointer: Option<String>,
    pub message: String,
}

fn ser_loc<S: serde::Serializer>(l: &Location, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&l.to_string())
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pointer {
            Some(p) if !p.is_empty() => write!(f, "{}: {}: {}", self.location, p, self.message),
            _ => write!(f, "{}: {}", self.location, self.message),
        }
    }
}
