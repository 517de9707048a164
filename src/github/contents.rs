//! Files through the contents API: read (bytes and blob sha, checked)
//! and write (one commit per file).

use serde_json::Value;

use super::answers::{self, checked_sha};
use super::client::{GitHub, Method};
use super::error::GitHubError;
use super::paths::{file_path, repo_path, seg};
use crate::util::text::shown;

impl GitHub {
    /// A file's bytes at `reference` (branch, tag or sha); `None` if absent.
    pub async fn get_file(
        &self,
        repo: &str,
        path: &str,
        reference: Option<&str>,
    ) -> Result<Option<Vec<u8>>, GitHubError> {
        Ok(self
            .get_file_with_sha(repo, path, reference)
            .await?
            .map(|(bytes, _)| bytes))
    }

    /// A file's bytes and blob sha (checked) at `reference`; `None` if
    /// absent.
    pub async fn get_file_with_sha(
        &self,
        repo: &str,
        path: &str,
        reference: Option<&str>,
    ) -> Result<Option<(Vec<u8>, String)>, GitHubError> {
        let mut p = format!("{}/contents/{}", repo_path(repo), file_path(path));
        if let Some(r) = reference {
            p.push_str(&format!("?ref={}", seg(r)));
        }
        match self.send(Method::Get, &p, None).await {
            Ok(r) => file_of(&r.body, &p, path).map(Some),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates or updates one file on a branch (one commit).
    pub async fn put_file(
        &self,
        repo: &str,
        path: &str,
        branch: &str,
        content: &[u8],
        message: &str,
        blob_sha: Option<&str>,
    ) -> Result<(), GitHubError> {
        let mut body = serde_json::json!({
            "message": message,
            "content": answers::encode_content(content),
            "branch": branch,
        });
        if let Some(sha) = blob_sha {
            body["sha"] = Value::String(sha.to_string());
        }
        self.send(
            Method::Put,
            &format!("{}/contents/{}", repo_path(repo), file_path(path)),
            Some(&body),
        )
        .await
        .map(|_| ())
    }
}

/// Bytes and blob sha of a contents answer for `file` (requested at
/// `path`): a file with base64 content and a 40-hex sha, or an error that
/// says which of these it is not.
fn file_of(body: &Value, path: &str, file: &str) -> Result<(Vec<u8>, String), GitHubError> {
    let not = |message: String| GitHubError::BadJson {
        method: "GET",
        path: path.to_string(),
        message,
    };
    if body
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t != "file")
    {
        return Err(not(format!("`{file}` is not a file")));
    }
    let content = body
        .get("content")
        .and_then(Value::as_str)
        .ok_or_else(|| not(format!("`{file}` is not a file")))?;
    match body.get("encoding").and_then(Value::as_str) {
        None | Some("base64") => {}
        Some(other) => {
            return Err(not(format!(
                "`{file}` comes with the encoding `{}`, not base64 (the contents API gives no content for files over 1 MB)",
                shown(other)
            )))
        }
    }
    let sha = checked_sha(body, "/sha", path, "sha")?;
    let bytes = answers::decode_content(content).map_err(|e| GitHubError::BadBase64 {
        method: "GET",
        path: path.to_string(),
        file: file.to_string(),
        message: e.to_string(),
    })?;
    Ok((bytes, sha))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_answers_are_checked() {
        let sha = "a".repeat(40);
        let ok = serde_json::json!({"type": "file", "encoding": "base64", "content": "aGVs\nbG8=\n", "sha": sha});
        assert_eq!(
            file_of(&ok, "/p", "f.yml").unwrap(),
            (b"hello".to_vec(), sha.clone())
        );
        let e = file_of(
            &serde_json::json!({"type": "file", "content": "{not base64}", "sha": sha}),
            "/p",
            "infra/v.yml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`infra/v.yml` is not valid base64"), "{e}");
        assert!(!e.contains("JSON"), "{e}");
        let e = file_of(
            &serde_json::json!({"type": "file", "encoding": "none", "content": "", "sha": sha}),
            "/p",
            "big",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("encoding `none`"), "{e}");
        let e = file_of(
            &serde_json::json!({"type": "file", "content": "", "sha": "x\ny"}),
            "/p",
            "f",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unusable `sha`") && !e.contains("x\ny"), "{e}");
        let e = file_of(&serde_json::json!([]), "/p", "dir")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`dir` is not a file"), "{e}");
    }
}
