//! The plan file holds the values Terraform planned with, a sensitive
//! variable's too: like every result file fleetform writes it is readable
//! by its owner only (#82 point 3, "`tfplan` stays 0644 while every other
//! result file is 0600").

use crate::common::{self, Fixture};

#[cfg(unix)]
#[test]
fn every_result_file_of_a_plan_is_its_owners_alone() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::new();
    common::run(&fx, &["plan", "--customer", "acme", "--env", "staging"]).ok();
    let dir = fx.manager().join(".fleetform/out/acme/staging");
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let meta = e.metadata().unwrap();
        if !meta.is_file() || e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let mode = meta.permissions().mode() & 0o777;
        assert_eq!(
            mode & 0o077,
            0,
            "{} is {mode:o}: others may read it",
            e.path().display()
        );
    }
}
