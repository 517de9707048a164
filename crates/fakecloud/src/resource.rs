//! One `tf_provider::Resource` implementation, driven by a [`Kind`].

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use tf_provider::schema::Schema;
use tf_provider::value::{ValueAny, ValueEmpty};
use tf_provider::{AttributePath, Diagnostic, Diagnostics, Resource};

use crate::cloud::Cloud;
use crate::kinds::{self, Kind, State};
use crate::knobs;

/// The cloud file, known once the provider is configured.
pub type SharedCloud = Arc<RwLock<Option<Cloud>>>;

pub struct FakeResource {
    pub kind: &'static Kind,
    pub cloud: SharedCloud,
}

/// An error diagnostic (built directly: `Diagnostic::new` appends a
/// backtrace to the detail whenever `RUST_BACKTRACE` is set).
pub fn error(diags: &mut Diagnostics, summary: String, detail: String, attribute: AttributePath) {
    diags.add_error(Diagnostic {
        summary: summary.into(),
        detail: detail.into(),
        attribute,
    });
}

impl FakeResource {
    fn cloud(&self, diags: &mut Diagnostics) -> Option<Cloud> {
        let cloud = self.cloud.read().ok().and_then(|c| c.clone());
        if cloud.is_none() {
            error(
                diags,
                "fakecloud is not configured".into(),
                "The provider was used before its configuration gave it a cloud file.".into(),
                AttributePath::root(),
            );
        }
        cloud
    }

    fn cloud_error(&self, diags: &mut Diagnostics, doing: &str, e: anyhow::Error) {
        error(
            diags,
            format!("fakecloud: {doing} {} failed", self.kind.type_name),
            format!("{e:#}"),
            AttributePath::root(),
        );
    }

    /// `FAKECLOUD_SLOW_MS`, then `FAKECLOUD_FAIL_ON` when `name` is given.
    /// `false` when the call must fail (the diagnostic is recorded).
    async fn knobs(&self, diags: &mut Diagnostics, doing: &str, name: Option<&str>) -> bool {
        match knobs::delay() {
            Ok(Some(d)) => tokio::time::sleep(d).await,
            Ok(None) => {}
            Err(e) => {
                error(diags, e, String::new(), AttributePath::root());
                return false;
            }
        }
        let Some(name) = name.filter(|n| knobs::fails(n)) else {
            return true;
        };
        error(
            diags,
            format!(
                "fakecloud: injected failure: {doing} {} {name:?}",
                self.kind.type_name
            ),
            format!(
                "{} lists {name:?}, so fakecloud refuses to {doing} it.",
                knobs::FAIL_ON
            ),
            AttributePath::new("name"),
        );
        false
    }

    /// Stores `state` under its id (replacing what the cloud had there),
    /// with what it keeps of the write-only values of `config`.
    fn put(
        &self,
        diags: &mut Diagnostics,
        cloud: &Cloud,
        (state, config): (&State, &State),
        doing: &str,
    ) -> bool {
        let r = self.kind.stored(state).and_then(|mut attrs| {
            attrs.extend(self.kind.written(config));
            let id = kinds::string(state, "id").unwrap_or_default();
            cloud.update(|objects| {
                objects.insert(self.kind.key(&id), attrs);
                Ok(())
            })
        });
        match r {
            Ok(()) => true,
            Err(e) => {
                self.cloud_error(diags, doing, e);
                false
            }
        }
    }
}

#[async_trait]
impl Resource for FakeResource {
    type State<'a> = State;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(self.kind.schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: State) -> Option<()> {
        if let Some((attr, detail)) = self.kind.validate(&config) {
            let summary = format!("Invalid {attr} for {}", self.kind.type_name);
            error(diags, summary, detail, AttributePath::new(attr));
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        let cloud = self.cloud(diags)?;
        let id = kinds::string(&state, "id").unwrap_or_default();
        let objects = match cloud.objects() {
            Ok(o) => o,
            Err(e) => {
                self.cloud_error(diags, "reading", e);
                return Some((state, private));
            }
        };
        // Gone from the cloud: Terraform plans to create it again.
        let stored = objects.get(&self.kind.key(&id))?;
        match self.kind.state_of(&id, stored) {
            Ok(now) => Some((now, private)),
            Err(e) => {
                self.cloud_error(diags, "reading", e);
                Some((state, private))
            }
        }
    }

    async fn plan_create<'a>(
        &self,
        _diags: &mut Diagnostics,
        proposed: State,
        _config: State,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        Some((self.kind.plan_new(proposed), ValueEmpty::Null))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: State,
        proposed: State,
        _config: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty, Vec<AttributePath>)> {
        let replace = self.kind.replaced_by(&prior, &proposed);
        let paths = replace.into_iter().map(AttributePath::new).collect();
        Some((self.kind.forget_write_only(proposed), private, paths))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<ValueEmpty> {
        Some(private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: State,
        config: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        let cloud = self.cloud(diags)?;
        let name = kinds::string(&planned, "name");
        if !self.knobs(diags, "create", name.as_deref()).await {
            return None;
        }
        let mut state = self.kind.forget_write_only(planned);
        let r = cloud.update(|objects| {
            let id = self.kind.assign_computed(&mut state, objects);
            let mut stored = self.kind.stored(&state)?;
            stored.extend(self.kind.written(&config));
            objects.insert(self.kind.key(&id), stored);
            Ok(())
        });
        match r {
            Ok(()) => Some((state, private)),
            Err(e) => {
                self.cloud_error(diags, "creating", e);
                None
            }
        }
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        _prior: State,
        planned: State,
        config: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        let cloud = self.cloud(diags)?;
        let name = kinds::string(&planned, "name");
        if !self.knobs(diags, "update", name.as_deref()).await {
            return None;
        }
        let planned = self.kind.forget_write_only(planned);
        self.put(diags, &cloud, (&planned, &config), "updating")
            .then_some((planned, private))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: State,
        _private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<()> {
        let cloud = self.cloud(diags)?;
        if !self.knobs(diags, "delete", None).await {
            return None;
        }
        if let Some(name) = kinds::string(&prior, "name").filter(|n| knobs::delete_fails(n)) {
            error(
                diags,
                format!(
                    "fakecloud: injected failure: delete {} {name:?}",
                    self.kind.type_name
                ),
                format!(
                    "{} lists {name:?}, so fakecloud refuses to delete it.",
                    knobs::FAIL_DELETE_ON
                ),
                AttributePath::new("name"),
            );
            return None;
        }
        let key = self
            .kind
            .key(&kinds::string(&prior, "id").unwrap_or_default());
        match cloud.update(|objects| Ok(objects.remove(&key))) {
            Ok(_) => Some(()),
            Err(e) => {
                self.cloud_error(diags, "deleting", e);
                None
            }
        }
    }

    /// `terraform import fakecloud_network.x net-a`: Terraform then reads
    /// the object from the cloud file.
    async fn import<'a>(
        &self,
        _diags: &mut Diagnostics,
        id: String,
    ) -> Option<(State, ValueEmpty)> {
        let mut state: State = self
            .kind
            .attrs
            .iter()
            .map(|a| (a.name.to_string(), ValueAny::Null))
            .collect();
        state.insert("id".into(), ValueAny::String(id));
        Some((state, ValueEmpty::Null))
    }
}
