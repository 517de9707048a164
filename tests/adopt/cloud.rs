//! Adoption (issue #57) on the test cloud: objects that exist already
//! are brought under fleetform by a plan that only imports, applied from
//! its reviewed digest and recorded; a mismatch in one attribute shows as
//! an update to review; an unmapped resource is refused; a wave halts at
//! the first pair that is not ready; a release takes the adopted
//! addresses out of the state and leaves the cloud as it was.
//!
//! The objects are made by an earlier Terraform whose state fleetform
//! never had: the fleet is applied once, then its state is thrown away,
//! so the cloud holds objects no state knows.

use serde_json::Value;

use crate::common;
use crate::fakecloud;
use crate::support::rollout_world::{slug, World};

pub(crate) const ENV: &str = "staging";

/// A provider's listing command: `ADDRESS ID` lines for the pair named
/// in its environment.
const LIST: &str = r##"#!/bin/sh
p="$FLEETFORM_CUSTOMER-$FLEETFORM_ENVIRONMENT"
echo "# the objects of $p"
echo "fakecloud_network.main net-$p"
echo "fakecloud_instance.web[0] i-$p-web-0"
echo "fakecloud_bucket.logs bucket-$p-logs"
"##;

/// `n` customers in staging whose objects exist, unknown to any state.
/// (A copy of the world made once per test process.)
pub(crate) fn fleet_made_outside(n: usize) -> World {
    World::copied(&format!("{n} made outside"), ENV, || {
        let w = World::with(n, ENV);
        w.expect(0, &["plan", "--all", "--env", ENV]);
        for i in 1..=n {
            w.expect(0, &["apply", "--customer", &slug(i), "--env", ENV]);
        }
        std::fs::remove_dir_all(w.fx.path("manager/.fleetform/state")).unwrap();
        std::fs::remove_dir_all(w.fx.path("manager/.fleetform/out")).unwrap();
        w
    })
}

/// The mapping of customer `c`: each of its objects by its address, from
/// the cloud file (`skip`: addresses left unmapped).
pub(crate) fn write_mapping(w: &World, c: &str, skip: &[&str]) {
    let mut lines = String::from("# Objects made before fleetform.\nimports:\n");
    let prefix = format!("{c}-{ENV}");
    for (_, o) in fakecloud::objects(&w.cloud_file) {
        let name = o["name"].as_str().unwrap_or_default();
        let id = o["id"].as_str().unwrap();
        let address = if name == prefix {
            "fakecloud_network.main".to_string()
        } else if name == format!("{prefix}-logs") {
            "fakecloud_bucket.logs".to_string()
        } else if let Some(n) = name.strip_prefix(&format!("{prefix}-web-")) {
            format!("\"fakecloud_instance.web[{n}]\"")
        } else {
            continue;
        };
        if !skip.contains(&address.as_str()) {
            lines.push_str(&format!("  {address}: {id}\n"));
        }
    }
    w.fx.write(&format!("manager/adopt/{c}/{ENV}.yml"), &lines);
}

/// The adoption plan's digest, from `adopt plan --json`.
pub(crate) fn plan_digest(w: &World, c: &str) -> String {
    let out = w.expect(
        0,
        &["adopt", "plan", "--customer", c, "--env", ENV, "--json"],
    );
    let v: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    v["plan_sha256"].as_str().unwrap().to_string()
}

fn adopt_plan(w: &World, code: i32, c: &str) -> String {
    let out = w.expect(code, &["adopt", "plan", "--customer", c, "--env", ENV]);
    String::from_utf8_lossy(out.stdout.as_bytes()).into_owned()
}

/// (stage, detail) of each pair in `adopt status --json`.
pub(crate) fn statuses(w: &World) -> Vec<(String, String)> {
    let out = w.expect(0, &["adopt", "status", "--json"]);
    let v: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["unit"]["customer"].as_str().unwrap().to_string(),
                r["stage"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({filters => vec![(r"[0-9a-f]{64}", "[digest]"), (r"sha256:[0-9a-f]{12}\)", "sha256:[short])"), (r"at \d{4}-\d\d-\d\dT[0-9:.]+Z", "at [time]")]}, {
        insta::assert_snapshot!(name, text);
    });
}

pub(crate) fn apply_args<'a>(c: &'a str, digest: &'a str) -> Vec<&'a str> {
    vec![
        "adopt",
        "apply",
        "--customer",
        c,
        "--env",
        ENV,
        "--plan-sha256",
        digest,
        "--reason",
        "bring c01 under fleetform (MIG-1)",
    ]
}

pub(crate) fn adopt_audit(w: &World) -> Vec<Value> {
    w.audit()
        .into_iter()
        .filter(|e| e["action"] == "adopt")
        .collect()
}

#[test]
fn objects_made_outside_are_adopted_by_a_zero_change_plan_then_released() {
    let w = fleet_made_outside(1);
    let cloud = fakecloud::objects(&w.cloud_file);
    assert_eq!(statuses(&w), [("c01".into(), "not-started".into())]);
    // The provider's command lists the objects; fleetform writes the
    // mapping from it, never over one that exists.
    w.fx.write("manager/list-objects.sh", LIST);
    let discover = [
        "adopt",
        "discover",
        "--customer",
        "c01",
        "--env",
        ENV,
        "--",
        "sh",
        "list-objects.sh",
    ];
    let out = w.expect(0, &discover);
    assert!(
        String::from_utf8_lossy(out.stdout.as_bytes())
            .contains("wrote adopt/c01/staging.yml: 3 objects"),
        "{}",
        String::from_utf8_lossy(out.stdout.as_bytes())
    );
    let out = w.expect(3, &discover);
    assert!(
        common::stderr(&out).contains("exists"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(statuses(&w), [("c01".into(), "mapped".into())]);
    snapshot("adopt_plan_ready", &adopt_plan(&w, 0, "c01"));
    let digest = plan_digest(&w, "c01");
    assert_eq!(statuses(&w), [("c01".into(), "zero-diff".into())]);
    // A second person reviews the digest: on a workstation, only with
    // --unreviewed; a digest other than the plan's is refused.
    let out = w.expect(3, &apply_args("c01", &digest));
    assert!(
        common::stderr(&out).contains("--unreviewed"),
        "{}",
        common::stderr(&out)
    );
    let other = "ab".repeat(32);
    let out = w.expect(
        3,
        &[&apply_args("c01", &other)[..], &["--unreviewed"]].concat(),
    );
    assert!(
        common::stderr(&out).contains("differs"),
        "{}",
        common::stderr(&out)
    );
    assert!(adopt_audit(&w).is_empty());
    let out = w.expect(
        0,
        &[&apply_args("c01", &digest)[..], &["--unreviewed"]].concat(),
    );
    let said = String::from_utf8_lossy(out.stdout.as_bytes());
    assert!(
        said.contains("adopted c01/staging: 3 objects imported"),
        "{said}"
    );
    assert_eq!(
        fakecloud::objects(&w.cloud_file),
        cloud,
        "nothing in the cloud changed"
    );
    // Drift-clean: the pair's next plan changes nothing.
    let out = w.expect(0, &["plan", "--customer", "c01", "--env", ENV, "--json"]);
    let rows: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(rows[0]["summary"]["has_changes"], false, "{rows:#}");
    let audit = adopt_audit(&w);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["result"], "ok");
    assert_eq!(audit[0]["approval"], "unreviewed");
    assert_eq!(audit[0]["plan_sha256"], digest);
    assert_eq!(statuses(&w), [("c01".into(), "adopted".into())]);
    let records = common_records(&w, "adoptions/c01/_/staging");
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(records[0].ends_with("-adopted.json"), "{records:?}");

    // Released: out of the state, the cloud as it was.
    let release = [
        "adopt",
        "release",
        "--customer",
        "c01",
        "--env",
        ENV,
        "--reason",
        "handed back",
        "--unreviewed",
    ];
    let out = w.expect(0, &release);
    assert!(
        String::from_utf8_lossy(out.stdout.as_bytes())
            .contains("3 addresses out of the state; nothing in the cloud changed"),
        "{}",
        String::from_utf8_lossy(out.stdout.as_bytes())
    );
    assert_eq!(
        fakecloud::objects(&w.cloud_file),
        cloud,
        "release touched the cloud"
    );
    let plan = crate::local::ops::plan(&w, &[]);
    assert_eq!(
        crate::local::ops::counts(&plan),
        (3, 0, 0),
        "the state forgot them: {plan:#}"
    );
    assert_eq!(statuses(&w), [("c01".into(), "released".into())]);
    let audit = adopt_audit(&w);
    assert_eq!(audit[1]["result"], "released", "{audit:?}");
    // Nothing left to release.
    w.expect(3, &release);
}

/// Ids holding what HCL's templates treat specially (`$`, `%`, `${`,
/// `%{`, `$${`): each reaches Terraform as exactly the mapped bytes, so
/// the plan imports the objects that exist and changes nothing (written
/// doubled, `net$1` was imported as `net$$1`, an object that does not
/// exist). An id with a control character is refused where it is mapped.
#[test]
fn ids_with_template_characters_import_exactly_the_mapped_object() {
    let w = fleet_made_outside(1);
    let hostile = ["net$1-50%off", "i-${web}%{if x}$", "b-$${z}%%{w}$$%"];
    let mut renamed: Vec<(String, String)> = Vec::new();
    fakecloud::edit_objects(&w.cloud_file, |objects| {
        let mut next = serde_json::Map::new();
        for (key, mut o) in std::mem::take(objects) {
            let old = o["id"].as_str().unwrap().to_string();
            let (kind, _) = key.split_once('/').unwrap();
            let new = match kind {
                "fakecloud_network" => hostile[0],
                "fakecloud_instance" => hostile[1],
                _ => hostile[2],
            };
            o["id"] = new.into();
            renamed.push((old, new.to_string()));
            next.insert(format!("{kind}/{new}"), o);
        }
        // What referred to an old id (the instance's network) follows it.
        for o in next.values_mut() {
            for (_, v) in o.as_object_mut().unwrap().iter_mut() {
                if let Some((_, new)) = renamed.iter().find(|(old, _)| v.as_str() == Some(old)) {
                    *v = new.as_str().into();
                }
            }
        }
        *objects = next;
    });
    let quoted = |id: &str| serde_json::to_string(id).unwrap();
    w.fx.write(
        &format!("manager/adopt/c01/{ENV}.yml"),
        &format!(
            "imports:\n  fakecloud_network.main: {}\n  \"fakecloud_instance.web[0]\": {}\n  fakecloud_bucket.logs: {}\n",
            quoted(hostile[0]),
            quoted(hostile[1]),
            quoted(hostile[2])
        ),
    );
    let said = adopt_plan(&w, 0, "c01");
    assert!(
        said.contains("ready: imports only, nothing changes in the cloud")
            && said.contains("3 to import"),
        "{said}"
    );
    let text = std::fs::read_to_string(w.fx.path(&format!("manager/adopt/c01/{ENV}.yml"))).unwrap();
    w.fx.write(
        &format!("manager/adopt/c01/{ENV}.yml"),
        &text.replace("net$1", "net\\u0007$1"),
    );
    let out = w.expect(2, &["adopt", "plan", "--customer", "c01", "--env", ENV]);
    let err = common::stderr(&out);
    assert!(
        err.contains(&format!("adopt/c01/{ENV}.yml:2:"))
            && err.contains("holds a control character"),
        "{err}"
    );
}

/// The record keys under `prefix` in the local records store.
fn common_records(w: &World, prefix: &str) -> Vec<String> {
    let dir = w.fx.path(&format!("manager/.fleetform/records/{prefix}"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_mismatch_in_one_attribute_is_an_update_to_review() {
    let w = fleet_made_outside(1);
    fakecloud::edit_objects(&w.cloud_file, |o| {
        let web = o
            .get_mut("fakecloud_instance/i-c01-staging-web-0")
            .expect("the instance");
        web["instance_type"] = "t3.large".into();
    });
    let cloud = fakecloud::objects(&w.cloud_file);
    write_mapping(&w, "c01", &[]);
    snapshot("adopt_plan_to_review", &adopt_plan(&w, 0, "c01"));
    let digest = plan_digest(&w, "c01");
    assert_eq!(statuses(&w), [("c01".into(), "to-review".into())]);
    let out = w.expect(
        3,
        &[&apply_args("c01", &digest)[..], &["--unreviewed"]].concat(),
    );
    assert!(
        common::stderr(&out).contains("fakecloud_instance.web[0] (instance_type)")
            && common::stderr(&out).contains("--accept-updates"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(fakecloud::objects(&w.cloud_file), cloud);
    // Accepted: imported, and the one attribute updated.
    w.expect(
        0,
        &[
            &apply_args("c01", &digest)[..],
            &["--unreviewed", "--accept-updates"],
        ]
        .concat(),
    );
    let after = fakecloud::objects(&w.cloud_file);
    assert_eq!(
        after["fakecloud_instance/i-c01-staging-web-0"]["instance_type"],
        "t3.micro"
    );
    assert!(adopt_audit(&w)[0]["detail"]
        .as_str()
        .unwrap()
        .contains("updated in place, accepted: fakecloud_instance.web[0] (instance_type)"));
    // Once the pair was applied after its adoption, it is fleetform's:
    // no release.
    w.change("tier: staging-2", "tier: staging-3");
    w.expect(0, &["plan", "--customer", "c01", "--env", ENV]);
    w.expect(0, &["apply", "--customer", "c01", "--env", ENV]);
    let out = w.expect(
        3,
        &[
            &["adopt", "release"][..],
            &crate::local::ops::C01_R[..],
            &["--unreviewed"],
        ]
        .concat(),
    );
    assert!(
        common::stderr(&out).contains("was applied after its adoption"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(statuses(&w), [("c01".into(), "adopted".into())]);
}

#[test]
fn an_unmapped_resource_is_refused() {
    let w = fleet_made_outside(1);
    let cloud = fakecloud::objects(&w.cloud_file);
    write_mapping(&w, "c01", &["fakecloud_bucket.logs"]);
    snapshot("adopt_plan_refused", &adopt_plan(&w, 3, "c01"));
    assert_eq!(statuses(&w), [("c01".into(), "refused".into())]);
    // With --json the diff is on stdout, and the exit code says refused;
    // the plan file itself is judged at apply: refused.
    let out = w.expect(
        3,
        &["adopt", "plan", "--customer", "c01", "--env", ENV, "--json"],
    );
    let v: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(
        v["diff"]["refused"][0]["address"], "fakecloud_bucket.logs",
        "{v:#}"
    );
    let digest = v["plan_sha256"].as_str().unwrap();
    let out = w.expect(
        3,
        &[&apply_args("c01", digest)[..], &["--unreviewed"]].concat(),
    );
    assert!(
        common::stderr(&out).contains("would create fakecloud_bucket.logs"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(fakecloud::objects(&w.cloud_file), cloud);
    assert!(adopt_audit(&w).is_empty());
    // An address the module does not have, and a mapping error: each
    // says where.
    let mapping = w.fx.read("manager/adopt/c01/staging.yml");
    w.fx.write(
        "manager/adopt/c01/staging.yml",
        &format!("{mapping}  fakecloud_bucket.spare: bucket-spare\n"),
    );
    let out = w.expect(2, &["adopt", "plan", "--customer", "c01", "--env", ENV]);
    assert!(
        common::stderr(&out).contains("adopt/c01/staging.yml:5:3: `fakecloud_bucket.spare` is not a resource of the manager's module"),
        "{}",
        common::stderr(&out)
    );
    w.fx.write(
        "manager/adopt/c01/staging.yml",
        "imports:\n  fakecloud_network.main: net-x\n  \"bad address\": x\n",
    );
    let out = w.expect(2, &["adopt", "plan", "--customer", "c01", "--env", ENV]);
    assert!(
        common::stderr(&out)
            .contains("adopt/c01/staging.yml:3:3: `bad address` is not a resource address"),
        "{}",
        common::stderr(&out)
    );
}

#[test]
fn a_wave_halts_at_the_first_unexpected_diff() {
    let w = fleet_made_outside(4);
    let cloud = fakecloud::objects(&w.cloud_file);
    for i in 1..=4 {
        let skip: &[&str] = if i == 3 {
            &["fakecloud_bucket.logs"]
        } else {
            &[]
        };
        write_mapping(&w, &slug(i), skip);
    }
    let out = w.expect(
        3,
        &[
            "adopt",
            "wave",
            "--env",
            ENV,
            "--apply",
            "--unreviewed",
            "--reason",
            "migration wave 1",
        ],
    );
    snapshot(
        "adopt_wave_halted",
        &String::from_utf8_lossy(out.stdout.as_bytes()),
    );
    assert_eq!(
        statuses(&w),
        [
            ("c01".into(), "adopted".into()),
            ("c02".into(), "adopted".into()),
            ("c03".into(), "refused".into()),
            ("c04".into(), "mapped".into()),
        ]
    );
    assert_eq!(
        fakecloud::objects(&w.cloud_file),
        cloud,
        "the wave changed nothing in the cloud"
    );
    assert_eq!(adopt_audit(&w).len(), 2);
    // The dashboard shows where each pair stands.
    w.expect(0, &["report", "--html", "dash.html"]);
    let html = w.fx.read("manager/dash.html");
    // Reached from the views' links, as every other section.
    let nav = html
        .split("<nav")
        .nth(1)
        .unwrap()
        .split("</nav>")
        .next()
        .unwrap();
    assert!(
        nav.contains("<a href=\"#adoptions\">Adoptions</a>"),
        "{nav}"
    );
    let section = &html[html
        .find("<section id=\"adoptions\">")
        .expect("the adoptions section")..];
    for row in [
        "<td>c01/staging</td><td>adopted</td>",
        "<td>c03/staging</td><td>refused</td>",
        "<td>c04/staging</td><td>mapped</td>",
    ] {
        assert!(section.contains(row), "{row}: {section}");
    }
}

fn wave_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "adopt",
        "wave",
        "--env",
        ENV,
        "--apply",
        "--unreviewed",
        "--reason",
        "migration wave",
    ];
    args.extend_from_slice(extra);
    args
}

/// The adoption wave records (`halted`, `resumed`) of staging, oldest
/// first.
pub(crate) fn wave_records(w: &World) -> Vec<String> {
    common_records(w, "adoption-waves/staging/_")
        .into_iter()
        .map(|n| {
            n.trim_end_matches(".json")
                .rsplit('-')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn a_halted_wave_holds_until_its_pair_is_ready_then_goes_on_where_it_stopped() {
    let w = fleet_made_outside(4);
    let cloud = fakecloud::objects(&w.cloud_file);
    for i in 1..=4 {
        let skip: &[&str] = if i == 3 {
            &["fakecloud_bucket.logs"]
        } else {
            &[]
        };
        write_mapping(&w, &slug(i), skip);
    }
    w.expect(3, &wave_args(&[]));
    assert_eq!(wave_records(&w), ["halted"]);
    // Status and the dashboard say the wave is halted, and where.
    let held = "The adoption wave of staging is halted at c03/staging since";
    let out = w.expect(0, &["adopt", "status"]);
    let said = String::from_utf8_lossy(out.stdout.as_bytes());
    assert!(
        said.contains(held)
            && said.contains("`fleetform adopt wave --env staging` says what lifts it"),
        "{said}"
    );
    w.expect(0, &["report", "--html", "dash.html"]);
    assert!(w.fx.read("manager/dash.html").contains(held));
    // The halt is kept: the next run plans nothing, not even the pairs
    // after the one it halted at, and says what lifts it.
    let out = w.expect(3, &wave_args(&[]));
    let said = String::from_utf8_lossy(out.stdout.as_bytes());
    assert!(
        said.contains("The adoption wave of staging is halted at c03/staging since")
            && said.contains("c03/staging is refused now")
            && said.contains("Nothing was planned.")
            && said.contains("fleetform adopt plan --customer c03 --env staging")
            && said.contains("fleetform adopt wave --env staging --resume"),
        "{said}"
    );
    assert!(!w
        .fx
        .path("manager/.fleetform/out/c04/staging/adoption.json")
        .exists());
    // Fixed in the mapping, but not planned yet: still held.
    write_mapping(&w, "c03", &[]);
    w.expect(3, &wave_args(&[]));
    assert_eq!(statuses(&w)[3], ("c04".into(), "mapped".into()));
    assert_eq!(adopt_audit(&w).len(), 2);
    // Planned: zero-diff; the wave goes on where it stopped (c01, c02
    // are not adopted twice).
    adopt_plan(&w, 0, "c03");
    let out = w.expect(0, &wave_args(&[]));
    let said = String::from_utf8_lossy(out.stdout.as_bytes());
    assert!(
        said.contains("went on: c03/staging is zero-diff now."),
        "{said}"
    );
    assert_eq!(
        statuses(&w),
        (1..=4)
            .map(|i| (slug(i), "adopted".to_string()))
            .collect::<Vec<_>>()
    );
    assert_eq!(adopt_audit(&w).len(), 4, "{:?}", adopt_audit(&w));
    assert_eq!(wave_records(&w), ["halted", "resumed"]);
    let out = w.expect(0, &["adopt", "status"]);
    assert!(!String::from_utf8_lossy(out.stdout.as_bytes()).contains("is halted"));
    let halts: Vec<Value> = w
        .audit()
        .into_iter()
        .filter(|e| e["action"] == "adopt-wave")
        .collect();
    assert_eq!(halts.len(), 2, "{halts:?}");
    assert_eq!(halts[0]["result"], "halted");
    assert_eq!(halts[0]["customer"], "c03");
    assert_eq!(halts[1]["result"], "resumed");
    assert_eq!(fakecloud::objects(&w.cloud_file), cloud);
}

#[test]
fn a_wave_waits_for_the_wave_before_to_be_adopted_and_baked_and_an_operator_resumes_it() {
    // Waves: internal (c01, c02), half (c03); an hour's bake.
    let w = fleet_made_outside(3);
    let cfg = w.fx.read("manager/fleetform.yml");
    assert!(cfg.contains("  bake: 0s\n"), "{cfg}");
    w.fx.write(
        "manager/fleetform.yml",
        &cfg.replace("  bake: 0s\n", "  bake: 1h\n"),
    );
    for i in 1..=3 {
        let skip: &[&str] = if i == 3 {
            &["fakecloud_bucket.logs"]
        } else {
            &[]
        };
        write_mapping(&w, &slug(i), skip);
    }
    // Planned only (as on GitHub Actions): the pilot wave is ready, not
    // adopted, so the next wave does not start.
    let out = w.expect(0, &["adopt", "wave", "--env", ENV]);
    let said = String::from_utf8_lossy(out.stdout.as_bytes());
    assert!(
        said.contains("Not yet: wave half starts once every pair of wave internal is adopted, and c01/staging is not"),
        "{said}"
    );
    assert_eq!(statuses(&w)[2], ("c03".into(), "mapped".into()));
    // Adopted: the next wave waits for the bake time.
    let out = w.expect(0, &wave_args(&[]));
    let said = String::from_utf8_lossy(out.stdout.as_bytes());
    assert!(
        said.contains("Not yet: wave half may start at ")
            && said.contains("wave internal bakes 3600 s after its last adoption (c0"),
        "{said}"
    );
    assert_eq!(statuses(&w)[2], ("c03".into(), "mapped".into()));
    // Two hours on: the wave starts, and halts at c03.
    let later = (jiff::Timestamp::now().as_second() + 7200).to_string();
    let run = |args: &[&str]| {
        w.fleetform()
            .env("FLEETFORM_NOW", &later)
            .args(args)
            .output()
    };
    let out = run(&wave_args(&[]));
    common::assert_code_for(format_args!("wave"), &out, 3);
    assert_eq!(statuses(&w)[2], ("c03".into(), "refused".into()));
    // Fixed; an operator resumes: c03 is planned again and adopted.
    write_mapping(&w, "c03", &[]);
    let out = run(&wave_args(&["--resume"]));
    common::assert_code_for(format_args!("wave --resume"), &out, 0);
    let said = String::from_utf8_lossy(out.stdout.as_bytes());
    assert!(
        said.contains("went on: resumed by ops-dana: c03/staging is planned again."),
        "{said}"
    );
    assert_eq!(statuses(&w)[2], ("c03".into(), "adopted".into()));
    assert_eq!(wave_records(&w), ["halted", "resumed"]);
}
