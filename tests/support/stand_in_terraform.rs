//! A stand-in for `terraform`, for the GitHub-traffic benches only
//! (tests/bench/*.rs): a fleet command's GitHub requests do not
//! depend on what planned the change, and real Terraform for thousands of
//! customers per run is too slow to measure GitHub traffic with. The
//! script answers what fleetform runs (src/terraform/cli.rs) as Terraform
//! does for a plan with one in-place update: `init` 0; `plan
//! -detailed-exitcode -out=F` writes F and exits 2; `show -json` prints a
//! minimal plan (one managed resource updated, a prior state holding it:
//! what `PlanSummary::from_show_json` reads); `show`, `apply`, `output
//! -json`, `workspace`, `version -json` as Terraform prints them. Not a
//! Terraform: nothing is read, nothing is kept.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

const SCRIPT: &str = r#"#!/bin/sh
# fleetform's GitHub-traffic bench: a stand-in for terraform (tests/support/stand_in_terraform.rs).
case "$1" in
version) echo '{"terraform_version":"1.11.4","platform":"linux_amd64","provider_selections":{},"terraform_outdated":false}' ;;
plan)
  for a in "$@"; do
    case "$a" in -out=*) echo "stand-in plan" >"${a#-out=}" ;; esac
  done
  echo '  # fakecloud_network.main will be updated in-place'
  echo 'Plan: 0 to add, 1 to change, 0 to destroy.'
  exit 2 ;;
show)
  if [ "$2" = "-json" ]; then
    echo '{"format_version":"1.2","terraform_version":"1.11.4","prior_state":{"values":{"root_module":{"resources":[{"address":"fakecloud_network.main","mode":"managed","type":"fakecloud_network","name":"main"}]}}},"resource_changes":[{"address":"fakecloud_network.main","mode":"managed","type":"fakecloud_network","name":"main","change":{"actions":["update"],"before":{"tier":"a"},"after":{"tier":"b"}}}]}'
  else
    echo 'Plan: 0 to add, 1 to change, 0 to destroy.'
  fi ;;
apply) echo 'Apply complete! Resources: 0 added, 1 changed, 0 destroyed.' ;;
output) echo '{}' ;;
esac
exit 0
"#;

/// Writes the stand-in as `dir/terraform` (executable); returns its path.
pub fn install(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("terraform");
    std::fs::write(&path, SCRIPT).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}
