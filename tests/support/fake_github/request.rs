//! One request's way through the fake GitHub: faults, authentication, the
//! documented headers, the spec check and the handler ([`serve`]).

use super::*;

/// The answer being built for one request.
struct Outcome {
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    reset: bool,
}

impl Outcome {
    fn json(status: u16, body: &Value) -> Outcome {
        Outcome {
            status,
            headers: Vec::new(),
            body: Some(body.to_string().into_bytes()),
            reset: false,
        }
    }

    fn error(status: u16, message: &str) -> Outcome {
        Outcome::json(status, &render::error(message, status))
    }

    /// A 403 with `headers` and `body` (a rate limit's answer).
    fn forbidden(headers: Vec<(String, String)>, body: String) -> Outcome {
        Outcome {
            status: 403,
            headers,
            body: Some(body.into_bytes()),
            reset: false,
        }
    }

    /// The secondary rate limit's 403, retry after `wait` seconds.
    fn limited(st: &State, wait: u64) -> Outcome {
        let Fault::Status { headers, body, .. } = limit_answer(st, wait) else {
            unreachable!("a status fault")
        };
        Outcome::forbidden(headers, body)
    }
}

/// Serves `req`; `over_concurrency` (its retry-after) when it arrived with
/// its token's concurrent requests at the limit.
pub(super) fn serve(inner: &Inner, req: HttpRequest, over_concurrency: Option<u64>) -> Reply {
    let query = util::parse_query(&req.query);
    let path = match req.path.strip_prefix(inner.prefix.as_str()) {
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        _ => String::new(),
    };
    let mut record = RequestRecord {
        method: req.method.clone(),
        path: if path.is_empty() {
            req.path.clone()
        } else {
            path.clone()
        },
        query: req.query.clone(),
        status: 0,
        body: String::from_utf8_lossy(&req.body).into_owned(),
        headers: req.headers.clone(),
        operation: None,
        fault: None,
    };
    let mut st = lock(&inner.state);
    // An answer held after the request took effect (`Fault::AnswerLate`).
    let mut late: Option<Duration> = None;
    st.rate_limit_used += 1;
    let mut problems: Vec<String> = Vec::new();
    let outcome = 'outcome: {
        // GitHub's web pages of the App manifest flow live at the root,
        // beside (or, with a prefix, outside) the API.
        if let Some((status, headers, body)) =
            manifest_web::serve(&mut st, &req.method, &req.path, &req.query, &req.body)
        {
            break 'outcome Outcome {
                status,
                headers,
                body: Some(body),
                reset: false,
            };
        }
        if path.is_empty() {
            problems.push(format!("request outside the API prefix {:?}", inner.prefix));
            break 'outcome Outcome::error(404, "Not Found");
        }
        st.current_app = None;
        st.current_anonymous = req.header("authorization").is_none();
        if let Some(jwt) = req
            .header("authorization")
            .and_then(header_token)
            .filter(|t| t.starts_with("eyJ"))
        {
            match apps::verify_jwt(&st, jwt) {
                Ok(_) if !apps::jwt_may_call(&path) => {
                    problems.push(format!("an App's JWT was used for {path}; it may only call the App's endpoints (use an installation token)"));
                    break 'outcome Outcome::error(401, "A JSON web token could not be decoded");
                }
                Ok(app) => st.current_app = Some(app),
                Err(why) => {
                    problems.push(format!("bad App JWT: {why}"));
                    break 'outcome Outcome::error(401, "A JSON web token could not be decoded");
                }
            }
        }
        let jwt_ok = st.current_app.is_some();
        st.current_sender =
            apps::sender_of(&st, req.header("authorization").and_then(header_token));
        match check_scoped_token(&st, req.header("authorization"), &path, &mut problems) {
            _ if jwt_ok => {}
            Some(Ok(())) => {}
            Some(Err(outcome)) => break 'outcome outcome,
            // `GET /apps/{app_slug}` answers anyone (for a public App).
            None if req.header("authorization").is_none() && path.starts_with("/apps/") => {}
            None => {
                if let Some(outcome) = check_auth(&st, req.header("authorization"), &mut problems) {
                    break 'outcome outcome;
                }
            }
        }
        if st.check_api_headers {
            if let Some(outcome) = check_api_headers(&req.headers, &mut problems) {
                break 'outcome outcome;
            }
        }
        let spec = spec();
        let (op, params) = match spec.route(&req.method, &path) {
            Route::Found { op, params } => (op, params),
            Route::WrongMethod { allowed } => {
                problems.push(format!(
                    "no {} operation on this path in GitHub's API (allowed: {})",
                    req.method,
                    allowed.join(", ")
                ));
                break 'outcome Outcome::error(404, "Not Found");
            }
            Route::NotFound => {
                problems.push("no such route in the fake's GitHub API description".into());
                break 'outcome Outcome::error(404, "Not Found");
            }
        };
        record.operation = Some(op.id.clone());
        if let Some(granted) = installation_permissions(&st, req.header("authorization")) {
            let checked = permissions::check(&granted, &req.method, &op.template)
                .and_then(|()| permissions::check_path(&granted, &req.method, &path));
            if let Err(why) = checked {
                problems.push(why);
                let personal = req
                    .header("authorization")
                    .and_then(header_token)
                    .is_some_and(|t| st.fine_grained.contains_key(t));
                break 'outcome Outcome::error(
                    403,
                    if personal {
                        "Resource not accessible by personal access token"
                    } else {
                        "Resource not accessible by integration"
                    },
                );
            }
        }
        if let Some(outcome) =
            actions_may_not_open_pulls(&st, &op.id, &params, req.header("authorization"))
        {
            problems.push("a job's GITHUB_TOKEN opened a pull request where the repository does not allow GitHub Actions to create pull requests".into());
            break 'outcome outcome;
        }
        let param_problems = op.check_path_params(&params);
        if !param_problems.is_empty() {
            problems.extend(param_problems);
            break 'outcome Outcome::error(404, "Not Found");
        }
        let query_problems = op.check_query(&query);
        let body = op.check_body(spec, &req.body);
        problems.extend(query_problems.iter().cloned());
        problems.extend(body.violations);
        if let Some((status, message)) = body.reject {
            break 'outcome Outcome::error(status, &message);
        }
        if !query_problems.is_empty() {
            break 'outcome Outcome::error(
                422,
                &format!("Invalid request.\n\n{}", query_problems.join("\n")),
            );
        }

        if let Some(wait) = over_concurrency {
            record.fault = Some(format!(
                "secondary rate limit (concurrency), retry-after {wait}"
            ));
            break 'outcome Outcome::limited(&st, wait);
        }
        let token = record.token().unwrap_or_default().to_string();
        if let Some(Err(reset)) = st.primary.as_mut().map(|p| p.take(&token)) {
            record.fault = Some("primary rate limit".into());
            let Fault::Status {
                mut headers, body, ..
            } = Fault::rate_limit_exhausted(reset)
            else {
                unreachable!("a status fault")
            };
            headers.retain(|(n, _)| n != "x-ratelimit-limit");
            headers.extend(
                st.primary
                    .as_mut()
                    .map(|p| p.headers(&token))
                    .into_iter()
                    .flatten()
                    .take(1),
            );
            break 'outcome Outcome::forbidden(headers, body);
        }
        if let Some(wait) = st
            .limits
            .as_mut()
            .and_then(|l| l.check(&req.method, &op.id, &token))
        {
            record.fault = Some(format!("secondary rate limit, retry-after {wait}"));
            break 'outcome Outcome::limited(&st, wait);
        }
        if let Some(fault) = take_fault(&mut st, &req.method, &path) {
            record.fault = Some(fault.label());
            match fault {
                Fault::Status {
                    code,
                    headers,
                    body,
                } => {
                    break 'outcome Outcome {
                        status: code,
                        headers,
                        body: Some(body.into_bytes()),
                        reset: false,
                    };
                }
                Fault::Reset => {
                    break 'outcome Outcome {
                        status: 0,
                        headers: Vec::new(),
                        body: None,
                        reset: true,
                    };
                }
                Fault::MalformedJson => {
                    break 'outcome Outcome {
                        status: 200,
                        headers: Vec::new(),
                        body: Some(br#"{"id": 1, "message": "trunc"#.to_vec()),
                        reset: false,
                    };
                }
                Fault::Delay(duration) => {
                    drop(st);
                    sleep_unless_shutdown(duration, &inner.shutdown);
                    st = lock(&inner.state);
                }
                Fault::AnswerLate(duration) => late = Some(duration),
            }
        }

        let ctx = handlers::Ctx {
            op: &op.id,
            method: &req.method,
            path: &path,
            params: &params,
            query: &query,
            body: body.value.as_ref(),
            accept: req.header("accept"),
        };
        // A bug in a handler must not take the server down: answer 500.
        let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handlers::handle(&mut st, &ctx)
        }));
        let answer = match handled {
            Ok(answer) => answer,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                problems.push(format!(
                    "fake GitHub bug: {} handler panicked: {what}",
                    op.id
                ));
                break 'outcome Outcome::error(500, "fake GitHub handler panicked");
            }
        };
        problems.extend(answer.violation);
        if st.check_responses {
            if let Some(value) = &answer.body {
                for e in op.check_response(spec, answer.status, value) {
                    problems.push(format!(
                        "fake GitHub bug: {} answer {} does not match the response schema: {e}",
                        op.id, answer.status
                    ));
                }
            }
        }
        let mut headers = answer.headers;
        let body = match answer.raw {
            Some((content_type, bytes)) => {
                headers.push(("content-type".to_string(), content_type));
                Some(bytes)
            }
            None => answer.body.map(|b| b.to_string().into_bytes()),
        };
        // Conditional requests, as GitHub serves them: every 200 GET
        // carries an ETag, weak (`W/"…"`) and tied to the token as well as
        // the body (a new installation token every hour gets new ones);
        // `If-None-Match` with it is answered 304 with no body, which does
        // not count against the primary rate limit.
        if req.method == "GET" && answer.status == 200 {
            if let Some(b) = &body {
                use sha2::Digest as _;
                let mut h = sha2::Sha256::new();
                h.update(b);
                if st.etags_per_token {
                    h.update(req.header("authorization").unwrap_or_default());
                }
                let etag = format!("W/\"{}\"", &hex::encode(h.finalize())[..32]);
                headers.push(("etag".to_string(), etag.clone()));
                if req.header("if-none-match") == Some(etag.as_str()) {
                    st.not_modified += 1;
                    if let (Some(p), Some(t)) = (st.primary.as_mut(), record.token()) {
                        p.give_back(t);
                    }
                    st.rate_limit_used = st.rate_limit_used.saturating_sub(1);
                    break 'outcome Outcome {
                        status: 304,
                        headers,
                        body: None,
                        reset: false,
                    };
                }
            }
        }
        Outcome {
            status: answer.status,
            headers,
            body,
            reset: false,
        }
    };

    let target = if req.query.is_empty() {
        req.path.clone()
    } else {
        format!("{}?{}", req.path, req.query)
    };
    for message in problems {
        st.violations.push(Violation {
            method: req.method.clone(),
            path: target.clone(),
            message,
        });
    }
    record.status = outcome.status;
    st.requests.push(record.clone());
    if outcome.reset {
        return Reply::Reset;
    }
    if let Some(duration) = late {
        drop(st);
        sleep_unless_shutdown(duration, &inner.shutdown);
        st = lock(&inner.state);
    }
    let mut headers = vec![
        ("server".to_string(), "fake-github".to_string()),
        (
            "x-github-request-id".to_string(),
            format!("FAKE:{:04X}", st.rate_limit_used),
        ),
    ];
    if record.fault.is_none() {
        headers.extend([
            (
                "x-github-api-version-selected".to_string(),
                "2022-11-28".to_string(),
            ),
            (
                "x-github-media-type".to_string(),
                "github.v3; format=json".to_string(),
            ),
            ("x-ratelimit-limit".to_string(), "5000".to_string()),
            (
                "x-ratelimit-remaining".to_string(),
                st.rate_limit_remaining().to_string(),
            ),
            (
                "x-ratelimit-reset".to_string(),
                st.rate_limit_reset().to_string(),
            ),
            (
                "x-ratelimit-used".to_string(),
                st.rate_limit_used.to_string(),
            ),
            ("x-ratelimit-resource".to_string(), "core".to_string()),
        ]);
        // With the primary limit enforced, the token's own bucket.
        let token = record.token().unwrap_or_default().to_string();
        if let Some(per_token) = st.primary.as_mut().map(|p| p.headers(&token)) {
            headers.retain(|(n, _)| !per_token.iter().any(|(m, _)| m == n));
            headers.extend(per_token);
        }
    }
    let has_type = outcome
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
    if outcome.body.is_some() && !has_type {
        headers.push((
            "content-type".to_string(),
            "application/json; charset=utf-8".to_string(),
        ));
    }
    if let Some(expiry) = &st.token_expiration {
        headers.push((
            "github-authentication-token-expiration".to_string(),
            expiry.clone(),
        ));
    }
    headers.extend(outcome.headers);
    Reply::Send(HttpResponse {
        status: outcome.status,
        headers,
        body: outcome.body.unwrap_or_default(),
    })
}

/// `None` when the header carries none of the scoped tokens
/// ([`FakeGitHub::add_scoped_token`]); `Some(Ok)` when it carries one that
/// covers `path`; `Some(Err)` (403) when it carries one that does not.
fn check_scoped_token(
    st: &State,
    header: Option<&str>,
    path: &str,
    problems: &mut Vec<String>,
) -> Option<Result<(), Outcome>> {
    let token = header_token(header?)?;
    let (_, repos) = st.scoped_tokens.iter().find(|(t, _)| t == token)?;
    if let Some(expired) = st
        .token_expiry
        .get(token)
        .filter(|at| super::util::epoch_secs() >= **at)
    {
        problems.push(format!(
            "an installation token that expired at {} was used for {path}",
            super::util::rfc3339(*expired)
        ));
        return Some(Err(Outcome::error(401, "Bad credentials")));
    }
    let target = path
        .strip_prefix("/repos/")
        .and_then(|rest| {
            let mut parts = rest.splitn(3, '/');
            Some(format!("{}/{}", parts.next()?, parts.next()?))
        })
        .map(|r| state::repo_key(&r));
    if target.as_ref().is_some_and(|t| repos.contains(t)) {
        return Some(Ok(()));
    }
    problems.push(format!(
        "a token scoped to {repos:?} was used for {path}, which it does not cover"
    ));
    // GitHub names the kind of credential: an installation token's (an
    // App's, or a job's GITHUB_TOKEN) 403 says "integration"
    // ("Troubleshooting the REST API": "Resource not accessible by
    // integration"); a fine-grained token's says "personal access token".
    let minted = st.minted.iter().any(|m| m.token == token);
    Some(Err(Outcome::error(
        403,
        if minted {
            "Resource not accessible by integration"
        } else {
            "Resource not accessible by personal access token"
        },
    )))
}

/// The permissions of the installation (or fine-grained) token a request carries: those it
/// was minted with, or, when none were asked, the App's (its settings
/// page; GitHub gives a token every permission of the installation when
/// the request names none). `None` for any other credential, or an App
/// whose settings a test never set (nothing to check against).
fn installation_permissions(st: &State, header: Option<&str>) -> Option<serde_json::Value> {
    let token = header_token(header?)?;
    if let Some(fine) = st.fine_grained.get(token) {
        return Some(fine.clone());
    }
    let minted = st.minted.iter().find(|m| m.token == token)?;
    if minted
        .permissions
        .as_object()
        .is_some_and(|p| !p.is_empty())
    {
        return Some(minted.permissions.clone());
    }
    let app = st.apps.iter().find(|a| a.id == minted.app_id)?;
    app.settings.as_ref().map(|s| s.permissions.clone())
}

/// A job's `GITHUB_TOKEN` opens a pull request only where the repository
/// allows it ("Managing GitHub Actions settings for a repository":
/// "Preventing GitHub Actions from creating or approving pull requests";
/// `can_approve_pull_request_reviews` of the workflow permissions, off by
/// default): else 403 with GitHub's message.
fn actions_may_not_open_pulls(
    st: &State,
    op: &str,
    params: &std::collections::BTreeMap<String, String>,
    header: Option<&str>,
) -> Option<Outcome> {
    if op != "pulls/create" {
        return None;
    }
    let token = header_token(header?)?;
    let minted = st.minted.iter().find(|m| m.token == token)?;
    if minted.app_id != super::runner_view::ACTIONS_APP_ID {
        return None;
    }
    let repo = format!("{}/{}", params.get("owner")?, params.get("repo")?);
    let allowed = st
        .repo(&repo)
        .is_some_and(|r| r.settings.workflow_permissions.1);
    (!allowed).then(|| {
        Outcome::error(
            403,
            "GitHub Actions is not permitted to create or approve pull requests.",
        )
    })
}

/// The token of an `Authorization: Bearer|token <token>` header.
pub(super) fn header_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim())
}

impl RequestRecord {
    /// The token this request carried, if any.
    pub fn token(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .and_then(|(_, v)| header_token(v))
    }
}

/// `None` when the request may proceed.
fn check_auth(st: &State, header: Option<&str>, problems: &mut Vec<String>) -> Option<Outcome> {
    let Some(value) = header else {
        if st.allow_anonymous {
            return None;
        }
        problems.push("request without an Authorization header".into());
        return Some(Outcome::error(401, "Requires authentication"));
    };
    let (scheme, token) = value.trim().split_once(' ').unwrap_or(("", value));
    let scheme_ok = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token");
    if scheme_ok && token.trim() == st.token {
        return None;
    }
    problems.push(format!(
        "Authorization header is not `Bearer <token>` or `token <token>` with the expected token (got scheme {scheme:?})"
    ));
    Some(Outcome::error(401, "Bad credentials"))
}

/// The headers GitHub documents for every REST request. `None` when the
/// request may proceed (possibly with violations recorded).
fn check_api_headers(headers: &[(String, String)], problems: &mut Vec<String>) -> Option<Outcome> {
    let all = |name: &str| -> Vec<&str> {
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let accept = all("accept");
    let github_type = |v: &&str| {
        v.split(',').any(|range| {
            let media = range.split(';').next().unwrap_or_default().trim();
            media.starts_with("application/vnd.github") || media == "application/json"
        })
    };
    if !accept.iter().any(github_type) {
        problems.push(format!(
            "request without an Accept header naming a GitHub media type (got {accept:?}); GitHub documents `Accept: application/vnd.github+json`"
        ));
    }
    let versions = all("x-github-api-version");
    match versions.as_slice() {
        [] => problems.push(format!(
            "request without X-GitHub-Api-Version; GitHub documents `X-GitHub-Api-Version: {}`",
            API_VERSIONS[0]
        )),
        [one] if API_VERSIONS.contains(&one.trim()) => {}
        [one] => {
            problems.push(format!(
                "X-GitHub-Api-Version {one:?} is not a supported version"
            ));
            return Some(Outcome::error(
                400,
                &format!("API version '{}' is not supported.", one.trim()),
            ));
        }
        many => problems.push(format!(
            "X-GitHub-Api-Version sent {} times ({many:?}); send it once",
            many.len()
        )),
    }
    None
}

fn take_fault(st: &mut State, method: &str, path: &str) -> Option<Fault> {
    let index = st.faults.iter().position(|f| {
        f.method.as_deref().is_none_or(|m| m == method) && path.contains(&f.path_contains)
    })?;
    st.faults.remove(index).map(|f| f.fault)
}

fn sleep_unless_shutdown(duration: Duration, shutdown: &AtomicBool) {
    let end = Instant::now() + duration;
    while !shutdown.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// A secondary limit's answer: with `retry-after: wait`, or without it
/// when the test asked ([`super::FakeGitHub::limit_answers_without_retry_after`];
/// GitHub documents both).
fn limit_answer(st: &State, wait: u64) -> Fault {
    let mut fault = Fault::secondary_rate_limit(wait);
    if st.limits_without_retry_after {
        if let Fault::Status { headers, .. } = &mut fault {
            headers.retain(|(n, _)| n != "retry-after");
        }
    }
    fault
}
