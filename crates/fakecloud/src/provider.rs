//! The provider: its `cloud_file` setting and its three resources.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use async_trait::async_trait;
use tf_provider::schema::{Attribute, AttributeConstraint, AttributeType, Block, Schema};
use tf_provider::value::{ValueAny, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, DynamicDataSource, DynamicResource, Provider};

use crate::cloud::Cloud;
use crate::kinds;
use crate::knobs;
use crate::resource::{error, FakeResource, SharedCloud};

#[derive(Default)]
pub struct FakeCloud {
    cloud: SharedCloud,
}

type Config = BTreeMap<String, ValueAny>;

/// The cloud file: the provider block's `cloud_file`, else `FAKECLOUD_FILE`;
/// a relative path is taken from the working directory (Terraform's).
fn cloud_path(config: &Config) -> Result<PathBuf, (String, AttributePath)> {
    let path = match config.get("cloud_file") {
        Some(ValueAny::String(p)) if !p.is_empty() => PathBuf::from(p),
        Some(ValueAny::Unknown) => {
            let msg = "cloud_file must be known when the provider is configured";
            return Err((msg.into(), AttributePath::new("cloud_file")));
        }
        _ => match std::env::var_os(knobs::FILE) {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => {
                let msg = format!(
                    "fakecloud needs a cloud file: set cloud_file in the provider block \
                     or {} in the environment",
                    knobs::FILE
                );
                return Err((msg, AttributePath::root()));
            }
        },
    };
    Ok(std::path::absolute(&path).unwrap_or(path))
}

#[async_trait]
impl Provider for FakeCloud {
    type Config<'a> = Config;
    type MetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let cloud_file = Attribute {
            attr_type: AttributeType::String,
            description: format!(
                "Path of the cloud's JSON file (created on the first write). \
                 Defaults to the environment variable {}.",
                knobs::FILE
            )
            .into(),
            constraint: AttributeConstraint::Optional,
            ..Default::default()
        };
        Some(Schema {
            version: 0,
            block: Block {
                version: 0,
                attributes: [("cloud_file".to_string(), cloud_file)].into(),
                description: "A fake cloud kept in one JSON file, for tests.".into(),
                ..Default::default()
            },
        })
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        _terraform_version: String,
        config: Config,
    ) -> Option<()> {
        match cloud_path(&config) {
            Ok(path) => {
                *self.cloud.write().ok()? = Some(Cloud::new(path));
                Some(())
            }
            Err((msg, attribute)) => {
                error(diags, msg, String::new(), attribute);
                None
            }
        }
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        let resources = kinds::ALL.iter().map(|kind| {
            let resource = FakeResource {
                kind,
                cloud: self.cloud.clone(),
            };
            (
                kind.short.to_string(),
                Box::new(resource) as Box<dyn DynamicResource>,
            )
        });
        Some(resources.collect())
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        Some(HashMap::new())
    }
}
