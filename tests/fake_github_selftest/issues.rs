//! The fake GitHub's comments, issues and pull requests behave as GitHub's
//! do (helpers in `fake_github_selftest`).

use serde_json::json;

use crate::fake_github_selftest::server::{call, get, seeded, REPO};

// ----- comments and pagination -----

#[test]
fn comments_are_created_listed_paginated_and_updated() {
    let (gh, _) = seeded();
    gh.commit(REPO, "feature", &[("a", "1")]);
    let pr = gh.open_pr(REPO, "feature", "main", "Feature");
    gh.set_comment_page_size(2);
    let mut ids = Vec::new();
    for i in 0..5 {
        let resp = call(
            &gh,
            "POST",
            &format!("/repos/acme/app/issues/{pr}/comments"),
            Some(json!({ "body": format!("comment {i}") })),
        );
        assert_eq!(resp.status, 201, "{}", resp.body);
        let v = resp.json();
        assert_eq!(v["user"]["login"], "fleetform-bot");
        assert!(resp
            .header("location")
            .unwrap()
            .ends_with(&format!("/issues/comments/{}", v["id"])));
        ids.push(v["id"].as_u64().unwrap());
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase");

    let first = get(&gh, &format!("/repos/acme/app/issues/{pr}/comments"));
    assert_eq!(first.json().as_array().unwrap().len(), 2);
    let link = first.header("link").expect("a Link header");
    let base = format!("{}/repos/acme/app/issues/{pr}/comments", gh.api_url());
    assert!(
        link.contains(&format!("<{base}?page=2>; rel=\"next\"")),
        "{link}"
    );
    assert!(
        link.contains(&format!("<{base}?page=3>; rel=\"last\"")),
        "{link}"
    );
    let last = get(&gh, &format!("/repos/acme/app/issues/{pr}/comments?page=3"));
    assert_eq!(last.json()[0]["body"], "comment 4");
    let link = last.header("link").unwrap();
    assert!(
        link.contains("rel=\"prev\"")
            && link.contains("rel=\"first\"")
            && !link.contains("rel=\"next\"")
    );
    // per_page wins over the default page size, up to the maximum.
    let all = get(
        &gh,
        &format!("/repos/acme/app/issues/{pr}/comments?per_page=100"),
    );
    assert_eq!(all.json().as_array().unwrap().len(), 5);
    assert!(all.header("link").is_none());
    gh.set_max_page_size(3);
    let capped = get(
        &gh,
        &format!("/repos/acme/app/issues/{pr}/comments?per_page=100&page=2"),
    );
    assert_eq!(capped.json().as_array().unwrap().len(), 2);
    assert!(capped
        .header("link")
        .unwrap()
        .contains("per_page=100&page=1>; rel=\"prev\""));

    let resp = call(
        &gh,
        "PATCH",
        &format!("/repos/acme/app/issues/comments/{}", ids[1]),
        Some(json!({ "body": "edited" })),
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.json()["body"], "edited");
    let comments = gh.comments(REPO, pr);
    assert_eq!(comments.len(), 5);
    assert_eq!(
        (
            comments[1].id,
            comments[1].body.as_str(),
            comments[1].user.as_str()
        ),
        (ids[1], "edited", "fleetform-bot")
    );

    assert_eq!(
        call(
            &gh,
            "PATCH",
            "/repos/acme/app/issues/comments/999999",
            Some(json!({ "body": "x" }))
        )
        .status,
        404
    );
    assert_eq!(
        call(
            &gh,
            "POST",
            "/repos/acme/app/issues/99/comments",
            Some(json!({ "body": "x" }))
        )
        .status,
        404
    );
    let huge = json!({ "body": "x".repeat(65_537) });
    assert_eq!(
        call(
            &gh,
            "POST",
            &format!("/repos/acme/app/issues/{pr}/comments"),
            Some(huge)
        )
        .status,
        422
    );

    gh.set_bot_login("fleetform[bot]");
    let v = call(
        &gh,
        "POST",
        &format!("/repos/acme/app/issues/{pr}/comments"),
        Some(json!({ "body": "as app" })),
    )
    .json();
    assert_eq!(
        (v["user"]["login"].as_str(), v["user"]["type"].as_str()),
        (Some("fleetform[bot]"), Some("Bot"))
    );
    let seeded_id = gh.add_comment(REPO, pr, "octocat", "hello");
    assert_eq!(gh.comments(REPO, pr).last().unwrap().id, seeded_id);
    gh.assert_clean();
}

// ----- issues and pull requests -----

#[test]
fn issues_share_numbers_with_pull_requests() {
    let (gh, _) = seeded();
    gh.commit(REPO, "feature", &[("a", "1")]);
    let pr = gh.open_pr(REPO, "feature", "main", "A PR");
    let resp = call(
        &gh,
        "POST",
        "/repos/acme/app/issues",
        Some(
            json!({ "title": "Drift in staging", "body": "details", "labels": ["drift", { "name": "fleetform" }] }),
        ),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let issue = resp.json();
    assert_eq!(issue["number"], pr + 1);
    assert_eq!(issue["labels"][1]["name"], "fleetform");
    gh.open_issue(REPO, "Other", "body");

    let list = |query: &str| -> Vec<u64> {
        get(&gh, &format!("/repos/acme/app/issues{query}"))
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["number"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(list(""), [3, 2, 1], "newest first, pull requests included");
    assert_eq!(list("?labels=drift,fleetform"), [2]);
    assert_eq!(list("?labels=drift,other"), Vec::<u64>::new());
    assert_eq!(list("?direction=asc"), [1, 2, 3]);
    let with_pr = get(&gh, "/repos/acme/app/issues?direction=asc").json();
    assert!(with_pr[0]["pull_request"]["url"].is_string());
    assert!(with_pr[1].get("pull_request").is_none());

    let resp = call(
        &gh,
        "PATCH",
        "/repos/acme/app/issues/2",
        Some(json!({ "state": "closed", "labels": ["drift"] })),
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.json()["state_reason"], "completed");
    assert_eq!(list(""), [3, 1]);
    assert_eq!(list("?state=closed"), [2]);
    assert_eq!(list("?state=all&labels=drift"), [2]);
    assert!(get(&gh, "/repos/acme/app/issues/2").json()["closed_at"].is_string());
    assert_eq!(get(&gh, "/repos/acme/app/issues/9").status, 404);

    let issues = gh.issues(REPO);
    assert_eq!(issues.len(), 2);
    assert_eq!(
        (issues[0].state.as_str(), issues[0].labels.clone()),
        ("closed", vec!["drift".to_string()])
    );
    assert!(gh.issue(REPO, pr).unwrap().is_pull_request);
    gh.add_label(REPO, pr, "plan");
    gh.add_label(REPO, pr, "plan");
    assert_eq!(gh.pull(REPO, pr).unwrap().labels, ["plan"]);
    gh.remove_label(REPO, pr, "plan");
    assert!(gh.pull(REPO, pr).unwrap().labels.is_empty());
    gh.assert_clean();
}

#[test]
fn pull_requests_are_created_listed_and_updated() {
    let (gh, main) = seeded();
    let head = gh.commit(
        REPO,
        "feature",
        &[("infra/variables.yml", "max_instances: 5\n")],
    );
    let resp = call(
        &gh,
        "POST",
        "/repos/acme/app/pulls",
        Some(json!({ "title": "Bump", "head": "feature", "base": "main", "body": "why" })),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let pr = resp.json();
    assert_eq!(
        (
            pr["number"].as_u64(),
            pr["head"]["sha"].as_str(),
            pr["base"]["sha"].as_str()
        ),
        (Some(1), Some(head.as_str()), Some(main.as_str()))
    );
    assert_eq!(pr["head"]["ref"], "feature");
    assert_eq!(
        (pr["changed_files"].as_u64(), pr["commits"].as_u64()),
        (Some(1), Some(1))
    );

    // GitHub's refusals.
    let again = call(
        &gh,
        "POST",
        "/repos/acme/app/pulls",
        Some(json!({ "title": "Bump", "head": "acme:feature", "base": "main" })),
    );
    assert_eq!(again.status, 422);
    assert!(
        again
            .body
            .contains("A pull request already exists for acme:feature."),
        "{}",
        again.body
    );
    gh.create_branch(REPO, "same", "main");
    let empty = call(
        &gh,
        "POST",
        "/repos/acme/app/pulls",
        Some(json!({ "title": "x", "head": "same", "base": "main" })),
    );
    assert!(
        empty.body.contains("No commits between main and same"),
        "{}",
        empty.body
    );
    assert_eq!(
        call(
            &gh,
            "POST",
            "/repos/acme/app/pulls",
            Some(json!({ "title": "x", "head": "nope", "base": "main" }))
        )
        .status,
        422
    );

    // The head follows its branch.
    let newer = gh.commit(REPO, "feature", &[("b", "2")]);
    assert_eq!(
        get(&gh, "/repos/acme/app/pulls/1").json()["head"]["sha"],
        newer.as_str()
    );
    assert_eq!(get(&gh, "/repos/acme/app/pulls/9").status, 404);

    gh.commit(REPO, "other", &[("c", "3")]);
    let second = gh.open_pr(REPO, "other", "main", "Other");
    let numbers = |query: &str| -> Vec<u64> {
        get(&gh, &format!("/repos/acme/app/pulls{query}"))
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["number"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(numbers(""), [second, 1]);
    assert_eq!(numbers("?head=acme:feature"), [1]);
    assert_eq!(
        numbers("?head=feature"),
        [second, 1],
        "GitHub ignores a head without owner"
    );
    assert_eq!(numbers("?base=other"), Vec::<u64>::new());

    let resp = call(
        &gh,
        "PATCH",
        "/repos/acme/app/pulls/1",
        Some(json!({ "state": "closed", "title": "Bump!" })),
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(numbers(""), [second]);
    assert_eq!(numbers("?state=closed"), [1]);
    let pulls = gh.pulls(REPO);
    assert_eq!(
        (
            pulls[0].title.as_str(),
            pulls[0].state.as_str(),
            pulls[0].head_sha.as_str()
        ),
        ("Bump!", "closed", newer.as_str())
    );

    // Reviews.
    gh.add_review(REPO, second, "alice", "CHANGES_REQUESTED");
    gh.add_review(REPO, second, "bob", "APPROVED");
    let reviews = get(&gh, &format!("/repos/acme/app/pulls/{second}/reviews")).json();
    let states: Vec<(&str, &str)> = reviews
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["user"]["login"].as_str().unwrap(),
                r["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [("alice", "CHANGES_REQUESTED"), ("bob", "APPROVED")]
    );

    // Merging.
    let merge = gh.merge_pr(REPO, second);
    assert_eq!(
        gh.branch_head(REPO, "main").as_deref(),
        Some(merge.as_str())
    );
    assert_eq!(gh.file_at(REPO, "main", "c").as_deref(), Some("3"));
    let merged = get(&gh, &format!("/repos/acme/app/pulls/{second}")).json();
    assert_eq!(
        (merged["merged"].as_bool(), merged["state"].as_str()),
        (Some(true), Some("closed"))
    );
    assert_eq!(merged["merge_commit_sha"], merge.as_str());
    gh.assert_clean();
}
