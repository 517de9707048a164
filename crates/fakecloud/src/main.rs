//! `terraform-provider-fakecloud`: a Terraform provider (plugin protocol 6)
//! whose whole cloud is one JSON file, for fleetform's tests and benchmarks.
//! Real Terraform plans and applies against it with no network and no
//! account; a test reads and edits the file to check results and to make
//! drift.
//!
//! # The cloud file
//!
//! ```json
//! { "objects": { "fakecloud_network/net-main": { "id": "net-main", "name": "main", "cidr": "10.0.0.0/16", "zones": 2, "tags": {"team": "a"} } } }
//! ```
//!
//! Provider block: `cloud_file` (optional string), else the environment
//! variable `FAKECLOUD_FILE`; neither is an error. A missing file is an empty
//! cloud, created on the first write. Writes are atomic (temporary file and
//! rename) and serialised by an exclusive lock on `<cloud_file>.lock`, so
//! several Terraform processes may share one cloud file.
//!
//! Reads (refresh) return what the file holds now: edit an attribute and the
//! next plan shows an update (or a replacement for `cidr`, `network_id` and a
//! bucket's `name`); delete an object and the next plan creates it again.
//!
//! # Resources
//!
//! | type | required | optional | computed |
//! |------|----------|----------|----------|
//! | `fakecloud_network` | `name`, `cidr` (replaces) | `zones` (number), `tags` (map of string) | `id` = `net-<name>` |
//! | `fakecloud_instance` | `name`, `network_id` (replaces), `instance_type` (in place) | `size` (number), `tags` | `id` = `i-<name>`, `private_ip` |
//! | `fakecloud_bucket` | `name` (replaces) | `versioning` (bool), `tags` | `id` = `bucket-<name>`, `arn` |
//!
//! Ids are `<prefix>-<name>` (lowercased, other characters as `-`), with
//! `-2`, `-3`… when that id is taken in the cloud file; they are stored, so
//! renaming an object keeps its id. Numbers are whole numbers.
//! `terraform import` takes an id.
//!
//! # Test knobs (environment of the Terraform process, which the provider
//! # inherits)
//!
//! - `FAKECLOUD_FAIL_DELETE_ON=<name>[,<name>...]`: deleting an object whose
//!   `name` is listed fails (a destroy that stops halfway).
//! - `FAKECLOUD_FAIL_ON=<name>[,<name>...]`: creating or updating an object
//!   whose `name` is listed fails with the diagnostic
//!   `fakecloud: injected failure: create fakecloud_instance "<name>"`; the
//!   other objects of the apply are still created, so an apply fails
//!   halfway.
//! - `FAKECLOUD_SLOW_MS=<n>`: each create, update and delete sleeps `n`
//!   milliseconds first (a malformed value is an error).
//! - Drift: edit the cloud file.

mod cloud;
mod kinds;
mod knobs;
mod provider;
mod resource;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tf_provider::serve("fakecloud", provider::FakeCloud::default()).await
}
