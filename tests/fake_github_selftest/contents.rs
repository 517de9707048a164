//! The fake GitHub's contents, git refs, branches and statuses behave as
//! GitHub's do (helpers in `fake_github_selftest`).

use base64::Engine as _;
use serde_json::json;

use crate::fake_github_selftest::server::{call, get, seeded, send_raw, Resp, REPO, VERSION};

// ----- contents, refs, branches -----

#[test]
fn contents_are_served_base64_at_any_ref() {
    let (gh, first) = seeded();
    let second = gh.commit(
        REPO,
        "main",
        &[("infra/variables.yml", "max_instances: 3\n")],
    );
    gh.commit(
        REPO,
        "feature",
        &[("infra/variables.yml", "max_instances: 9\n")],
    );

    let decode = |resp: &Resp| {
        let v = resp.json();
        assert_eq!(v["type"], "file");
        assert_eq!(v["encoding"], "base64");
        let text = v["content"].as_str().unwrap().replace('\n', "");
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap(),
        )
        .unwrap()
    };
    // Default branch, both spellings of the path.
    let plain = get(&gh, "/repos/acme/app/contents/infra/variables.yml");
    assert_eq!(plain.status, 200);
    assert_eq!(decode(&plain), "max_instances: 3\n");
    let escaped = get(&gh, "/repos/acme/app/contents/infra%2Fvariables.yml");
    assert_eq!(decode(&escaped), "max_instances: 3\n");
    let v = plain.json();
    assert_eq!(v["path"], "infra/variables.yml");
    assert_eq!(v["name"], "variables.yml");
    assert_eq!(v["size"], 17);
    assert_eq!(v["sha"].as_str().unwrap().len(), 40);
    // Branch, full SHA, short SHA.
    let at = |r: &str| {
        decode(&get(
            &gh,
            &format!("/repos/acme/app/contents/infra/variables.yml?ref={r}"),
        ))
    };
    assert_eq!(at("feature"), "max_instances: 9\n");
    assert_eq!(at(&first), "max_instances: 2\n");
    assert_eq!(at(&second[..7]), "max_instances: 3\n");
    assert_eq!(at("refs/heads/feature"), "max_instances: 9\n");
    // GitHub wraps base64 at 60 characters.
    let long = "x".repeat(100);
    gh.commit(REPO, "main", &[("long.txt", &long)]);
    let v = get(&gh, "/repos/acme/app/contents/long.txt").json();
    let content = v["content"].as_str().unwrap();
    assert!(content.lines().all(|l| l.len() <= 60) && content.ends_with('\n'));

    // The raw media type gives the bytes.
    let auth = format!("Bearer {}", gh.token());
    let raw = format!("GET /repos/acme/app/contents/infra/variables.yml?ref=feature HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\naccept: application/vnd.github.raw+json\r\n{VERSION}\r\nconnection: close\r\n\r\n");
    let resp = send_raw(gh.addr(), raw.as_bytes()).unwrap();
    assert_eq!(
        (resp.status, resp.body.as_str()),
        (200, "max_instances: 9\n")
    );
    assert!(resp
        .header("content-type")
        .unwrap()
        .starts_with("application/vnd.github.raw"));

    // Missing file, unknown ref, directory listing.
    let missing = get(&gh, "/repos/acme/app/contents/nope.yml");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["message"], "Not Found");
    assert_eq!(
        get(&gh, "/repos/acme/app/contents/README.md?ref=nope").status,
        404
    );
    let dir = get(&gh, "/repos/acme/app/contents/infra").json();
    let names: Vec<(&str, &str)> = dir
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["type"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("envs", "dir"), ("variables.yml", "file")]);

    assert_eq!(
        gh.file_at(REPO, &first, "infra/variables.yml").as_deref(),
        Some("max_instances: 2\n")
    );
    assert_eq!(
        gh.file_at(REPO, "feature", "README.md").as_deref(),
        Some("# app\n")
    );
    assert_eq!(gh.file_at(REPO, "main", "nope"), None);
    let removed = gh.remove_files(REPO, "main", &["README.md"]);
    assert_eq!(gh.file_at(REPO, &removed, "README.md"), None);
    assert_eq!(gh.files_at(REPO, &removed).len(), 3);
    gh.assert_clean();
}

#[test]
fn file_contents_are_created_and_updated_like_github() {
    let (gh, _) = seeded();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let path = "/repos/acme/app/contents/infra/new.yml";
    let resp = call(
        &gh,
        "PUT",
        path,
        Some(json!({ "message": "add", "content": b64("a: 1\n") })),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let created = resp.json();
    let blob = created["content"]["sha"].as_str().unwrap().to_string();
    let commit = created["commit"]["sha"].as_str().unwrap().to_string();
    assert_eq!(
        gh.branch_head(REPO, "main").as_deref(),
        Some(commit.as_str())
    );
    assert_eq!(
        gh.file_at(REPO, "main", "infra/new.yml").as_deref(),
        Some("a: 1\n")
    );

    // Updating needs the current blob SHA.
    let update = |sha: Option<&str>| {
        let mut body = json!({ "message": "change", "content": b64("a: 2\n"), "branch": "main" });
        if let Some(sha) = sha {
            body["sha"] = json!(sha);
        }
        call(&gh, "PUT", path, Some(body))
    };
    assert_eq!(update(None).status, 422);
    assert_eq!(update(Some(&"0".repeat(40))).status, 409);
    let resp = update(Some(&blob));
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.json()["commit"]["parents"][0]["sha"], commit);
    assert_eq!(
        gh.file_at(REPO, "main", "infra/new.yml").as_deref(),
        Some("a: 2\n")
    );
    assert_eq!(
        gh.file_at(REPO, &commit, "infra/new.yml").as_deref(),
        Some("a: 1\n")
    );

    // Other branch; unknown branch.
    gh.create_branch(REPO, "feature", "main");
    let resp = call(
        &gh,
        "PUT",
        "/repos/acme/app/contents/x.txt",
        Some(json!({ "message": "m", "content": b64("x"), "branch": "feature" })),
    );
    assert_eq!(resp.status, 201);
    assert_eq!(gh.file_at(REPO, "feature", "x.txt").as_deref(), Some("x"));
    assert_eq!(gh.file_at(REPO, "main", "x.txt"), None);
    let resp = call(
        &gh,
        "PUT",
        "/repos/acme/app/contents/x.txt",
        Some(json!({ "message": "m", "content": b64("x"), "branch": "nope" })),
    );
    assert_eq!(resp.status, 404);
    gh.assert_clean();
}

#[test]
fn git_refs_and_branches() {
    let (gh, main) = seeded();
    let resp = get(&gh, "/repos/acme/app/git/ref/heads/main");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["ref"], "refs/heads/main");
    assert_eq!(resp.json()["object"]["sha"], main.as_str());
    assert_eq!(get(&gh, "/repos/acme/app/git/ref/heads/nope").status, 404);

    let resp = call(
        &gh,
        "POST",
        "/repos/acme/app/git/refs",
        Some(json!({ "ref": "refs/heads/fleetform/update", "sha": main })),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    assert_eq!(
        gh.branch_head(REPO, "fleetform/update").as_deref(),
        Some(main.as_str())
    );
    let again = call(
        &gh,
        "POST",
        "/repos/acme/app/git/refs",
        Some(json!({ "ref": "refs/heads/fleetform/update", "sha": main })),
    );
    assert_eq!(again.status, 422);
    assert_eq!(again.json()["message"], "Reference already exists");
    let bad = call(
        &gh,
        "POST",
        "/repos/acme/app/git/refs",
        Some(json!({ "ref": "fleetform", "sha": main })),
    );
    assert_eq!(bad.status, 422);

    // Fast-forward only, unless forced.
    let ahead = gh.commit(REPO, "other", &[("a", "1")]);
    let resp = call(
        &gh,
        "PATCH",
        "/repos/acme/app/git/refs/heads/fleetform/update",
        Some(json!({ "sha": ahead })),
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    let behind = gh.commit(REPO, "main", &[("b", "2")]);
    let resp = call(
        &gh,
        "PATCH",
        "/repos/acme/app/git/refs/heads/fleetform/update",
        Some(json!({ "sha": behind })),
    );
    assert_eq!(resp.status, 422);
    let resp = call(
        &gh,
        "PATCH",
        "/repos/acme/app/git/refs/heads/fleetform/update",
        Some(json!({ "sha": behind, "force": true })),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(
        gh.branch_head(REPO, "fleetform/update").as_deref(),
        Some(behind.as_str())
    );

    let branch = get(&gh, "/repos/acme/app/branches/fleetform/update");
    assert_eq!(branch.status, 200);
    assert_eq!(branch.json()["commit"]["sha"], behind.as_str());
    assert_eq!(get(&gh, "/repos/acme/app/branches/nope").status, 404);
    gh.assert_clean();
}

// ----- statuses -----

#[test]
fn statuses_and_combined_state() {
    let (gh, sha) = seeded();
    assert_eq!(gh.combined_state(REPO, &sha), "pending");
    let combined = get(&gh, &format!("/repos/acme/app/commits/{sha}/status")).json();
    assert_eq!(
        (combined["state"].as_str(), combined["total_count"].as_u64()),
        (Some("pending"), Some(0))
    );

    let post = |state: &str, context: &str| {
        let body = json!({ "state": state, "context": context, "description": format!("{context} is {state}"), "target_url": "https://ci.example.com/1" });
        call(
            &gh,
            "POST",
            &format!("/repos/acme/app/statuses/{sha}"),
            Some(body),
        )
    };
    let resp = post("pending", "fleetform/staging");
    assert_eq!(resp.status, 201, "{}", resp.body);
    assert_eq!(resp.json()["creator"]["login"], "fleetform-bot");
    post("success", "fleetform/staging");
    post("success", "fleetform/production");
    assert_eq!(gh.combined_state(REPO, &sha), "success");
    post("pending", "fleetform/production");
    assert_eq!(gh.combined_state(REPO, &sha), "pending");
    post("error", "fleetform/staging");
    assert_eq!(gh.combined_state(REPO, &sha), "failure");

    let statuses = gh.statuses(REPO, &sha);
    assert_eq!(statuses.len(), 5);
    assert_eq!(statuses[0].state, "pending");
    assert_eq!(
        statuses[0].description.as_deref(),
        Some("fleetform/staging is pending")
    );
    assert_eq!(
        statuses[0].target_url.as_deref(),
        Some("https://ci.example.com/1")
    );
    // By branch name too.
    assert_eq!(gh.statuses(REPO, "main").len(), 5);

    let combined = get(&gh, "/repos/acme/app/commits/main/status").json();
    assert_eq!(combined["state"], "failure");
    assert_eq!(combined["total_count"], 2);
    assert_eq!(combined["sha"], sha.as_str());
    let list = get(&gh, &format!("/repos/acme/app/commits/{sha}/statuses")).json();
    assert_eq!(list.as_array().unwrap().len(), 5);
    assert_eq!(list[0]["state"], "error", "newest first");

    // GitHub's own limits: an existing commit, a description of 140 characters.
    let resp = call(
        &gh,
        "POST",
        &format!("/repos/acme/app/statuses/{}", "a".repeat(40)),
        Some(json!({ "state": "success" })),
    );
    assert_eq!(resp.status, 422);
    let long = json!({ "state": "success", "description": "d".repeat(141) });
    let resp = call(
        &gh,
        "POST",
        &format!("/repos/acme/app/statuses/{sha}"),
        Some(long),
    );
    assert_eq!(resp.status, 422);
    assert_eq!(gh.statuses(REPO, &sha).len(), 5);
    gh.assert_clean();
}
