//! The refs the manager's workflows pin fleetform's actions to (#83 point
//! 4): doctor asks GitHub whether each resolves (a tag, a branch, a
//! commit), so a ref `init` wrote before its release exists, or a fork
//! without the tag, fails doctor instead of every job at "Set up job".

use crate::common;
use crate::doctor::manager::{configured, doctor, register_repo_ids, row, FLEETFORM};

fn workflow(reference: &str) -> String {
    format!(
        "on: push\npermissions: {{}}\njobs:\n  plan:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: fleetform/fleetform/actions/plan@{reference} # v1.2.3\n      - uses: \"fleetform/fleetform@{reference}\"\n      - uses: actions/checkout@v4\n"
    )
}

#[test]
fn a_pinned_ref_github_does_not_resolve_fails_and_a_tag_or_commit_passes() {
    let gh = configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    fx.write(
        "manager/.github/workflows/a.yml",
        &workflow("v9.9.9-action"),
    );
    fx.write(
        "manager/.github/workflows/b.yml",
        &workflow("v9.9.9-action"),
    );
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    let (level, result, found) = row(&r.stdout, "action refs");
    assert_eq!((level, result), ("must", "FAIL"), "{}", r.stdout);
    assert!(
        found.ends_with(
            "fleetform/fleetform@v9.9.9-action (.github/workflows/a.yml, .github/workflows/b.yml)"
        ),
        "{found}"
    );

    gh.add_tag(FLEETFORM, "v9.9.9-action", "main");
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(row(&r.stdout, "action refs").1, "pass", "{}", r.stdout);

    // A commit SHA resolves as a commit; one GitHub does not have fails.
    let sha = gh.branch_head(FLEETFORM, "main").unwrap();
    fx.write("manager/.github/workflows/b.yml", &workflow(&sha));
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(row(&r.stdout, "action refs").1, "pass", "{}", r.stdout);
    let other = "0123456789abcdef0123456789abcdef01234567";
    fx.write("manager/.github/workflows/b.yml", &workflow(other));
    let r = doctor(&gh, &fx, &[], &[]);
    let (_, result, found) = row(&r.stdout, "action refs");
    assert_eq!(result, "FAIL", "{}", r.stdout);
    assert!(found.contains(other), "{found}");
    gh.assert_clean();
}
