//! API paths: owner, repo, file path pieces and refs percent-encoded
//! segment by segment.

/// Percent-encodes one path segment (GitHub paths: owner, repo, file path
/// pieces, refs).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A repo path prefix `/repos/{owner}/{name}`.
pub fn repo_path(repo: &str) -> String {
    let (owner, name) = owner_and_name(repo);
    format!("/repos/{owner}/{name}")
}

/// A repo's owner and name, each encoded as in [`repo_path`]: what a call
/// of octocrab's typed API is given, since octocrab puts them in its path
/// as they are.
pub(super) fn owner_and_name(repo: &str) -> (String, String) {
    let (owner, name) = repo.split_once('/').unwrap_or((repo, ""));
    (seg(owner), seg(name))
}

/// A file path, each segment encoded, slashes kept.
pub(super) fn file_path(p: &str) -> String {
    p.split('/').map(seg).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments() {
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
        assert_eq!(repo_path("acme/infra.repo"), "/repos/acme/infra.repo");
        let (owner, name) = owner_and_name("ac me/a?b");
        assert_eq!(format!("/repos/{owner}/{name}"), repo_path("ac me/a?b"));
    }
}
