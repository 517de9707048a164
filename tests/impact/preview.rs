//! The impact preview a reviewer of the manager's pull request reads
//! (issue #32): files named as in the repository at a commit, never at a
//! runner's scratch folder; the comment's shape pinned by snapshots.

use crate::common;

use common::{stdout, Fixture};
use serde_json::Value;

/// The example fleet in a git repository, committed.
fn repo() -> Fixture {
    let fx = Fixture::new();
    fx.git(&["init", "-q"]);
    fx.git(&["add", "-A"]);
    fx.git(&["commit", "-q", "-m", "base"]);
    fx
}

fn head_sha(fx: &Fixture) -> String {
    let out = std::process::Command::new("git")
        .current_dir(fx.root())
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A key the change removes is traced to the base's file as the
/// repository has it, at the base's commit.
#[test]
fn a_removed_key_is_traced_to_the_base_file_at_its_commit() {
    let fx = repo();
    let base = fx.read("manager/values/base.yml");
    fx.write(
        "manager/values/base.yml",
        &base.replace("  managed_by: fleetform\n", ""),
    );
    let out = common::Run::from(fx.fleetform())
        .args(["impact", "--json", "--base", "HEAD"])
        .output();
    common::assert_ok(&out);
    let i: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    let removed: Vec<&Value> = i["changed"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["values"].as_array().unwrap())
        .filter(|v| v["key"] == "/tags/managed_by")
        .collect();
    assert!(!removed.is_empty(), "{i:#}");
    let sha = head_sha(&fx);
    for v in removed {
        assert_eq!(
            v["file"].as_str(),
            Some(format!("values/base.yml:12:15 at {}", &sha[..12]).as_str()),
            "{v}"
        );
    }
    // No path of the scratch the checkout is in (TMPDIR: not always /tmp).
    let scratch = std::env::temp_dir().to_string_lossy().into_owned();
    assert!(fx.root().starts_with(&scratch), "{}", fx.root().display());
    assert!(!stdout(&out).contains(&scratch), "{}", stdout(&out));
}

/// The head the comment names is the pull request's commit (`--sha`),
/// never "working tree".
#[test]
fn the_comment_names_the_pull_requests_head_commit() {
    use crate::support::fake_github::FakeGitHub;
    let fx = repo();
    let gh = FakeGitHub::start();
    let manager = "provider/manager";
    gh.add_repo(manager);
    gh.commit(manager, "main", &[("fleetform.yml", "version: 1\n")]);
    gh.create_branch(manager, "defaults", "main");
    let head = gh.commit(manager, "defaults", &[("values/staging.yml", "x: 1\n")]);
    let pr = gh.open_pr(manager, "defaults", "main", "staging defaults");
    let staging = fx.read("manager/values/staging.yml");
    fx.write(
        "manager/values/staging.yml",
        &staging.replace("region: us-east-1", "region: us-east-2"),
    );
    let out = common::Run::from(fx.fleetform())
        .env("GITHUB_API_URL", gh.api_url())
        .env("GITHUB_TOKEN", gh.token())
        .args(["impact", "--base", "HEAD", "--comment"])
        .args(["--manager-repo", manager, "--pr", &pr.to_string()])
        .args(["--sha", &head])
        .output();
    common::assert_ok(&out);
    let body = &gh.comments(manager, pr)[0].body;
    let base = head_sha(&fx);
    assert!(
        body.contains(&format!(
            "### fleetform impact: `{}` → `{}`",
            &base[..12],
            &head[..12]
        )),
        "{body}"
    );
    assert!(!body.contains("working tree"), "{body}");
}

mod rendered {
    use fleetform::config::Unit;
    use fleetform::data::summary::{Action, ResourceChange};
    use fleetform::report::impact::{
        Apart, Broken, Impact, PairImpact, PlanGroup, Plans, ValueChange,
    };
    use fleetform::report::impact_comment::{comment, summary};

    const RUN: &str = "https://github.com/provider/manager_repo/actions/runs/42";

    fn unit(c: &str, p: &str, e: &str) -> Unit {
        Unit::new(c, Some(p), e)
    }

    fn rc(address: &str, action: Action, changed: &[&str]) -> ResourceChange {
        ResourceChange {
            address: address.into(),
            action,
            resource_type: None,
            changed: changed.iter().map(|s| s.to_string()).collect(),
            kinds: Vec::new(),
            tags: None,
        }
    }

    fn pair(u: &Unit) -> PairImpact {
        PairImpact {
            unit: u.clone(),
            new: false,
            values: vec![ValueChange {
                key: "/cidr_block".into(),
                old: Some("10.0.0.0/16".into()),
                new: Some("10.1.0.0/16".into()),
                file: Some("values/production.yml:4:13 at 9f8e7d6c5b4a".into()),
            }],
            module: false,
            files_from: "deployment record".into(),
        }
    }

    fn impact(changed: Vec<PairImpact>, pairs: usize, plans: Option<Plans>) -> Impact {
        Impact {
            base: "1a2b3c4d5e6f".into(),
            head: "9f8e7d6c5b4a".into(),
            pairs,
            changed,
            broken: Vec::new(),
            modules: Vec::new(),
            unreadable: Vec::new(),
            pinned: Vec::new(),
            plans,
        }
    }

    /// Three production pairs of `network` share one plan that replaces
    /// the VPC; the gates block one of them.
    fn small() -> Impact {
        let members = vec![
            unit("acme", "network", "production"),
            unit("globex", "network", "production"),
            unit("initech", "network", "production"),
        ];
        let group = PlanGroup {
            members: members.clone(),
            resources: vec![
                rc("aws_subnet.private[0]", Action::Update, &["/tags/tier"]),
                rc("aws_vpc.main", Action::Replace, &["/cidr_block"]),
                rc("aws_route_table.old", Action::Delete, &[]),
                rc("aws_flow_log.main", Action::Create, &["/id"]),
            ],
            most_destroyed: 2,
            most_replaced: 1,
            gates: vec!["gates 3/3".into(), "blocked by max_destroy".into()],
            blocked: vec![(members[1].clone(), "blocked by max_destroy".into())],
            plan_dir: ".fleetform/impact/acme/network/production".into(),
            cost: None,
        };
        let plans = Plans {
            planned: 3,
            groups: vec![group],
            failed: Vec::new(),
            withheld: Vec::new(),
            apart: Vec::new(),
        };
        impact(members.iter().map(pair).collect(), 12, Some(plans))
    }

    /// The comment through cmark-gfm (Debian package `cmark-gfm`).
    fn gfm(markdown: &str) -> String {
        crate::common::cmark_gfm(
            markdown,
            &[
                "-e",
                "table",
                "-e",
                "autolink",
                "-e",
                "tagfilter",
                "--unsafe",
            ],
        )
    }

    /// The verdict on the first screen: a CAUTION naming the replacement
    /// and the destroy with the pairs they hit, the blocked pair, the
    /// actions in the plan comment's words and order.
    #[test]
    fn a_small_preview() {
        let c = comment(&small(), Some(RUN));
        insta::assert_snapshot!("impact_small", c);
        let first_fold = c.find("<details>").unwrap();
        for above in [
            "[!CAUTION]",
            "destroy `aws_route_table.old` in 3 pairs",
            "The gates block 1 pair",
            "plan 1 is shared by 3 pairs",
        ] {
            assert!(c[..first_fold].contains(above), "{above}\n{c}");
        }
        assert!(!c.contains("Delete") && !c.contains("Replace"), "{c}");
        let at = |w: &str| {
            c.find(&format!("\n- {w} `aws_"))
                .unwrap_or_else(|| panic!("{w}\n{c}"))
        };
        assert!(
            at("destroy") < at("replace")
                && at("replace") < at("update")
                && at("update") < at("create"),
            "{c}"
        );
    }

    /// Rendered as GitHub renders it: nothing inside raw HTML carries a
    /// Markdown escape (`max\_destroy`), the alert is where GitHub looks.
    #[test]
    fn nothing_is_escaped_inside_html() {
        let html = gfm(&comment(&small(), Some(RUN)));
        let summaries: Vec<&str> = html.lines().filter(|l| l.contains("<summary>")).collect();
        assert!(!summaries.is_empty(), "{html}");
        for s in &summaries {
            assert!(!s.contains('\\'), "{s}");
        }
        assert!(
            summaries
                .iter()
                .any(|s| s.contains("blocked by max_destroy")),
            "{html}"
        );
        assert!(html.contains("<blockquote>\n<p>[!CAUTION]"), "{html}");
        assert!(
            html.contains(&format!("<a href=\"{RUN}\">run's summary</a>")),
            "{html}"
        );
    }

    /// The manager PR's readers are not the customer's: an address's
    /// `for_each` keys and an attribute's map keys (customer values) are
    /// opaque in what is shared, in the groups and in the drift apart;
    /// the resource types, names and top-level attributes stay.
    #[test]
    fn shared_answers_show_addresses_without_their_keys() {
        let mut i = small();
        let plans = i.plans.as_mut().expect("plans");
        plans.groups[0].resources.push(rc(
            r#"module.site["acme.example"].aws_s3_bucket.b["customer-logs"]"#,
            Action::Delete,
            &["/tags/secret-project"],
        ));
        plans.apart.push(Apart {
            unit: unit("acme", "network", "production"),
            drift: vec![rc(
                r#"aws_route53_record.r["intranet.acme.example"]"#,
                Action::Update,
                &["/records/0"],
            )],
            behind: Vec::new(),
            pending: Vec::new(),
        });
        let full = comment(&i, Some(RUN));
        assert!(
            full.contains("customer-logs"),
            "the unshared answer keeps keys"
        );
        let shared = comment(&i.without_values(), Some(RUN));
        for key in ["acme.example", "customer-logs", "secret-project"] {
            assert!(!shared.contains(key), "{key} in:\n{shared}");
        }
        assert!(
            shared.contains("module.site[…].aws_s3_bucket.b[…]"),
            "{shared}"
        );
        assert!(shared.contains("/tags"), "{shared}");
    }

    /// Five pairs, each with its own large plan (141,742 characters
    /// uncut before #32): the comment fits, the verdict and the product ×
    /// environment table stay, the small pairs' table is kept, the bulky
    /// plan details are cut between rows and the cut is named.
    #[test]
    fn a_preview_that_must_be_cut() {
        let members: Vec<Unit> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|c| unit(c, "network", "production"))
            .collect();
        let attrs: Vec<String> = (0..120)
            .map(|i| format!("/tags/attribute_{i:03}"))
            .collect();
        let attrs: Vec<&str> = attrs.iter().map(String::as_str).collect();
        let groups = members
            .iter()
            .enumerate()
            .map(|(g, m)| PlanGroup {
                members: vec![m.clone()],
                resources: (0..2000)
                    .map(|i| {
                        let address = format!(
                            "aws_instance.fleet_{g}_with_a_long_name[\"{i:04}-{}\"]",
                            "x".repeat(200)
                        );
                        rc(&address, Action::Update, &attrs)
                    })
                    .collect(),
                most_destroyed: 0,
                most_replaced: 0,
                gates: vec!["gates 3/3".into()],
                blocked: Vec::new(),
                plan_dir: "x".into(),
                cost: None,
            })
            .collect();
        let plans = Plans {
            planned: 5,
            groups,
            failed: Vec::new(),
            withheld: Vec::new(),
            apart: Vec::new(),
        };
        let c = comment(
            &impact(members.iter().map(pair).collect(), 5, Some(plans)),
            Some(RUN),
        );
        assert!(c.chars().count() <= 65_536, "{}", c.len());
        assert!(
            c.contains("- `network` / `production`: 5 pairs changed; destroy 0, replace 0, update 10000, create 0; 0 blocked, 0 failed; 0 breaking\n"),
            "{c}"
        );
        assert!(
            c.contains("\n- `e/network/production`: `/cidr_block`"),
            "{c}"
        );
        assert!(
            c.contains("Cut to fit GitHub's limit of 65,536 characters"),
            "{c}"
        );
        // The shape, without the plans' resource lines.
        let shape: Vec<&str> = c.lines().filter(|l| !l.starts_with("- update ")).collect();
        insta::assert_snapshot!("impact_cut_shape", shape.join("\n"));
    }

    /// The customer's own pending edit and drift, beside the manager's
    /// change: labelled apart, not counted as the change's.
    #[test]
    fn pending_edit_and_drift_are_apart() {
        let mut i = small();
        let plans = i.plans.as_mut().unwrap();
        plans.apart = vec![
            Apart {
                unit: unit("acme", "network", "production"),
                drift: vec![rc("aws_security_group.web", Action::Update, &["/ingress"])],
                behind: vec![rc("aws_route_table.old", Action::Delete, &[])],
                pending: Vec::new(),
            },
            Apart {
                unit: unit("globex", "network", "production"),
                drift: Vec::new(),
                behind: Vec::new(),
                pending: vec!["infra/production.yml".into()],
            },
        ];
        let c = comment(&i, Some(RUN));
        insta::assert_snapshot!("impact_apart", c);
        let head = &c[..c.find("<details>").unwrap()];
        assert!(head.contains("Not this change's doing"), "{c}");
        assert!(!head.contains("aws_security_group.web"), "{c}");
    }

    /// A pair that failed to plan is listed; the other plans still are.
    #[test]
    fn a_failed_pair_is_listed_beside_the_plans() {
        let mut i = small();
        let plans = i.plans.as_mut().unwrap();
        plans.failed = vec![(
            unit("umbrella", "network", "production"),
            "terraform plan: exit status 1: Error: reading VPC: AccessDenied".into(),
        )];
        let c = comment(&i, Some(RUN));
        insta::assert_snapshot!("impact_failed", c);
        assert!(c.contains("**1 pair failed to plan**"), "{c}");
        assert!(c.contains("`umbrella/network/production`"), "{c}");
        assert!(c.contains("Plan 1: 3 pairs"), "{c}");
    }

    /// A failed pair's reason can quote a customer value: what every
    /// reader of the manager repo sees (the comment, a shard's artifact)
    /// shows the reason's class, and the pair is still listed as failed.
    #[test]
    fn a_failure_reason_shared_shows_no_customer_value() {
        let mut i = small();
        let plans = i.plans.as_mut().unwrap();
        plans.failed = vec![(
            unit("umbrella", "network", "production"),
            "terraform plan: exit status 1\n\nError: invalid value \"acme-secret-name\" for bucket (acme-secret-name)\n\n  on main.tf line 4".into(),
        )];
        let shown = comment(&i, Some(RUN));
        assert!(shown.contains("acme-secret-name"), "{shown}");
        let shared = i.without_values();
        let artifact = serde_json::to_string(&shared).unwrap();
        let c = comment(&shared, Some(RUN));
        for text in [&c, &artifact] {
            assert!(!text.contains("acme-secret-name"), "{text}");
        }
        assert!(c.contains("**1 pair failed to plan**"), "{c}");
        assert!(
            c.contains("`umbrella/network/production`: Error: invalid value"),
            "{c}"
        );
        let failed: serde_json::Value = serde_json::from_str(&artifact).unwrap();
        assert_eq!(failed["plans"]["failed"][0][0]["customer"], "umbrella");
        assert_eq!(
            failed["plans"]["failed"][0][1], "Error: invalid value \"…\" for bucket (…)",
            "{artifact}"
        );
    }

    /// A 10,000-pair fleet with hundreds of distinct plans, blocked and
    /// failed pairs and broken customers: the comment fits GitHub's
    /// 65,536 characters and the step summary its 1 MiB.
    #[test]
    fn a_ten_thousand_pair_fleet_fits() {
        let units: Vec<Unit> = (0..10_000)
            .map(|n| {
                unit(
                    &format!("customer-{n:05}"),
                    ["network", "compute"][n % 2],
                    ["staging", "production"][n / 2 % 2],
                )
            })
            .collect();
        let groups = units
            .chunks(25)
            .enumerate()
            .map(|(g, members)| PlanGroup {
                members: members.to_vec(),
                resources: (0..30)
                    .map(|r| {
                        rc(
                            &format!("aws_instance.g{g}[{r}]"),
                            [Action::Delete, Action::Replace, Action::Update][r % 3],
                            &["/tags/a", "/tags/b"],
                        )
                    })
                    .collect(),
                most_destroyed: 20,
                most_replaced: 10,
                gates: vec!["blocked by max_destroy".into()],
                blocked: members
                    .iter()
                    .map(|u| (u.clone(), "blocked by max_destroy".into()))
                    .collect(),
                plan_dir: "x".into(),
                cost: None,
            })
            .collect();
        let plans = Plans {
            planned: 9_700,
            groups,
            failed: units[..300]
                .iter()
                .map(|u| (u.clone(), "x".repeat(2000)))
                .collect(),
            withheld: Vec::new(),
            apart: Vec::new(),
        };
        let mut i = impact(units.iter().map(pair).collect(), 18_600, Some(plans));
        i.broken = (0..200)
            .map(|n| Broken {
                customer: format!("customer-{n:05}"),
                product: Some("network".into()),
                environments: vec!["production".into()],
                problems: Vec::new(),
            })
            .collect();
        let c = comment(&i, Some(RUN));
        assert!(c.len() <= 65_536, "{}", c.len());
        assert!(c.contains("Cut to fit"), "{}", &c[..4000]);
        assert!(c.contains("- `network` / `production`: "), "{}", &c[..4000]);
        let s = summary(&i, 1024 * 1024);
        assert!(s.len() <= 1024 * 1024, "{}", s.len());
        // What the step summary says, not only its size: the totals and
        // the breakage first, then the blocks; a note that says exactly
        // which plans' details it left out (those after the last shown)
        // and where the whole answer is.
        assert!(s.starts_with("### fleetform impact:"), "{}", &s[..500]);
        let head = &s[..600];
        assert!(
            head.contains("**10000 of 18600 pairs change**")
                && head.contains("**200 customers would stop validating.**"),
            "{head}"
        );
        let caution = s.find("> [!CAUTION]").unwrap();
        let warning = s.find("> [!WARNING]").unwrap();
        assert!(caution < warning, "destroys before the gates");
        let note = s
            .lines()
            .find(|l| l.contains("**Cut to fit GitHub's limit of 1 MiB on a step summary**"))
            .expect("a cut note");
        let from = note
            .split("left out the details of plans ")
            .nth(1)
            .and_then(|r| r.split('–').next())
            .and_then(|n| n.parse::<usize>().ok())
            .expect("the first plan left out");
        let group = |n: usize| format!("`aws_instance.g{}[0]`", n - 1);
        assert!(s.contains(&group(from - 1)), "plan {} shown", from - 1);
        assert!(!s.contains(&group(from)), "plan {from} left out, yet shown");
        assert!(note.contains("–400;"), "{note}");
        assert!(
            s.trim_end().ends_with(
                "The whole answer, without values, is the job's artifact `fleetform-impact`."
            ),
            "{}",
            &s[s.len() - 300..]
        );
    }
}

/// A shard that failed before it answered (an empty answer file) does not
/// swallow the preview: the merge lists its pairs as unanswered failures
/// beside the other shards' plans, and fails.
#[test]
fn a_shard_without_an_answer_leaves_its_pairs_listed_as_failed() {
    let fx = repo();
    let staging = fx.read("manager/values/staging.yml");
    fx.write(
        "manager/values/staging.yml",
        &staging.replace("region: us-east-1", "region: us-east-2"),
    );
    fx.write("empty.json", "");
    let out = common::Run::from(fx.fleetform())
        .args(["impact", "--base", "HEAD", "--json", "--plans-from"])
        .arg(fx.path("empty.json"))
        .output();
    common::assert_code(&out, 1);
    let i: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    let changed = i["changed"].as_array().unwrap();
    assert!(!changed.is_empty(), "{i:#}");
    let failed = i["plans"]["failed"].as_array().unwrap();
    assert_eq!(failed.len(), changed.len(), "{i:#}");
    assert!(
        failed[0][1]
            .as_str()
            .unwrap()
            .contains("its shard gave no answer"),
        "{i:#}"
    );
}

/// Both sides of `--plan` use the customer's files as last applied: the
/// customer's own unapplied edit (a new network range in its checkout) and
/// what the base already does since the apply (drift) are reported apart,
/// labelled, and not as the effect of the manager change (a new resource).
#[test]
fn plans_blame_the_manager_change_only_for_what_it_does() {
    common::require_terraform();
    let fx = repo();
    let run = |args: &[&str]| common::Run::from(fx.fleetform()).args(args).output();
    let out = run(&["plan", "--customer", "globex", "--env", "staging"]);
    common::assert_ok(&out);
    let out = run(&["apply", "--customer", "globex", "--env", "staging"]);
    common::assert_ok(&out);
    // The base moves on since the apply (not applied): not drift, the
    // base not applied yet (issue #52).
    let base = fx.read("manager/values/base.yml");
    fx.write(
        "manager/values/base.yml",
        &base.replace("managed_by: fleetform", "managed_by: fleetform-v2"),
    );
    fx.git(&["commit", "-q", "-am", "base moves on"]);
    // The customer's own edit, in its checkout, not applied.
    let vars = fx.read("customers/globex/infra/variables.yml");
    fx.write(
        "customers/globex/infra/variables.yml",
        &vars.replace("10.20.0.0/16", "10.99.0.0/16"),
    );
    // The manager change under review: one new resource everywhere.
    fx.append(
        "manager/terraform/main.tf",
        "\nresource \"terraform_data\" \"marker\" {\n  input = \"v2\"\n}\n",
    );
    let out = run(&["impact", "--base", "HEAD", "--plan", "--json"]);
    common::assert_ok(&out);
    let i: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    let plans = &i["plans"];
    let groups = plans["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{plans:#}");
    assert_eq!(
        groups[0]["resources"],
        serde_json::json!([{"address": "terraform_data.marker", "action": "create", "type": "terraform_data", "changed": ["/id", "/input", "/output"]}]),
        "only the change's own resource: {plans:#}"
    );
    let apart = plans["apart"].as_array().unwrap();
    assert_eq!(apart.len(), 1, "{plans:#}");
    assert_eq!(apart[0]["customer"], "globex", "{plans:#}");
    assert_eq!(apart[0]["environment"], "staging", "{plans:#}");
    assert_eq!(
        apart[0]["pending"],
        serde_json::json!(["infra/variables.yml"])
    );
    assert_eq!(apart[0]["drift"], serde_json::json!([]), "{plans:#}");
    let behind = apart[0]["behind"].as_array().unwrap();
    assert!(
        behind
            .iter()
            .any(|r| r["address"] == "terraform_data.network"),
        "{plans:#}"
    );
    // As a reviewer reads it: apart, labelled.
    let out = run(&["impact", "--base", "HEAD", "--plan"]);
    common::assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("Not this change's doing"), "{text}");
}
