//! The state bucket (`terraform.backend: {kind: s3}`) through the records'
//! S3 client: one state object's versions for `fleetform state
//! versions|restore|drill`; what the bucket keeps (versioning, lifecycle
//! rules, Object Lock, default encryption) for doctor is
//! [`super::state_settings`]'s. Signed with the job's
//! `AWS_*` credential, the one Terraform's backend uses; every answer read
//! is bounded ([`MAX_STATE`] for a state, the list pages as the records').
//!
//! Nothing here deletes a version of a state: [`StateBucket::remove_scratch`]
//! removes only the drill's scratch copies, whose keys it checks. Writing
//! a state under the backend's lock is [`super::state_lock`]'s.

use bytes::Bytes;
use instant_xml::FromXml;
use rusty_s3::{Bucket as S3Bucket, Credentials, S3Action, UrlStyle};

use super::s3_http::{self, Http, Request, MAX_ERROR_BODY};
use super::RecordsError;

/// The largest state read: far above any state fleetform's pairs write.
pub const MAX_STATE: usize = 64 * 1024 * 1024;
/// The most version pages one listing reads (1,000 versions a page).
const MAX_PAGES: usize = 100;
const LIST_PAGE: usize = 8 * 1024 * 1024;
/// The folder of the drill's scratch copies, beside the states.
pub const SCRATCH_PREFIX: &str = "fleetform-drill/";
const SIGNED_FOR: std::time::Duration = std::time::Duration::from_secs(300);

/// Where the state bucket is.
#[derive(Debug, Clone)]
pub struct StateBucketSettings {
    pub bucket: String,
    pub region: String,
    pub endpoint: Option<String>,
    pub path_style: bool,
    pub net: crate::net::Settings,
}

/// The state bucket.
#[derive(Debug, Clone)]
pub struct StateBucket {
    settings: StateBucketSettings,
}

/// One version of a state object, newest first in a listing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ObjectVersion {
    pub version_id: String,
    /// S3's `LastModified` (RFC 3339).
    pub last_modified: String,
    pub size: u64,
    pub is_latest: bool,
    /// A delete marker: the object was deleted here (no bytes).
    pub deleted: bool,
}

use super::s3::{content_md5, failed, io};

/// The job's `AWS_*` credential, as Terraform's s3 backend reads it.
fn credentials(var: impl Fn(&str) -> Option<String>) -> Result<Credentials, String> {
    let var = |k: &str| var(k).filter(|v| !v.is_empty());
    match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Ok(match var("AWS_SESSION_TOKEN") {
            Some(t) => Credentials::new_with_token(id, secret, t),
            None => Credentials::new(id, secret),
        }),
        _ => Err("no AWS credentials for the state bucket: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), e.g. with aws-actions/configure-aws-credentials, as for a plan".into()),
    }
}

/// The bucket and the credential, signing requests.
pub(super) struct Signer {
    bucket: S3Bucket,
    creds: Credentials,
}

impl Signer {
    pub(super) fn request(
        &self,
        method: http::Method,
        object: &str,
        query: &[(&str, &str)],
    ) -> Request {
        let c = Some(&self.creds);
        let url = match method {
            http::Method::PUT => {
                let mut a = self.bucket.put_object(c, object);
                query.iter().for_each(|(k, v)| a.query_mut().insert(*k, *v));
                a.sign(SIGNED_FOR)
            }
            http::Method::DELETE => {
                let mut a = self.bucket.delete_object(c, object);
                query.iter().for_each(|(k, v)| a.query_mut().insert(*k, *v));
                a.sign(SIGNED_FOR)
            }
            _ => {
                // A bucket's subresource (`?versioning`) is a GET of the
                // bucket itself: the object "" names it.
                let mut a = self.bucket.get_object(c, object);
                query.iter().for_each(|(k, v)| a.query_mut().insert(*k, *v));
                a.sign(SIGNED_FOR)
            }
        };
        Request {
            method,
            url,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }
}

impl StateBucket {
    pub fn new(settings: StateBucketSettings) -> StateBucket {
        StateBucket { settings }
    }

    /// The bucket of an s3 backend, `None` for the local one.
    pub fn for_manager(
        manager: &crate::config::Manager,
        net: &crate::net::Settings,
    ) -> Option<StateBucket> {
        match &manager.config.terraform.backend {
            crate::config::Backend::S3 {
                bucket,
                region,
                endpoint,
                use_path_style,
                ..
            } => Some(StateBucket::new(StateBucketSettings {
                bucket: bucket.clone(),
                region: region.clone(),
                endpoint: endpoint.clone(),
                path_style: *use_path_style,
                net: net.clone(),
            })),
            crate::config::Backend::Local { .. } => None,
        }
    }

    /// The bucket's name.
    pub(super) fn name(&self) -> &str {
        &self.settings.bucket
    }

    /// `s3://bucket/key`, for messages.
    pub fn describe(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.settings.bucket)
    }

    fn open(&self, what: &'static str, key: &str) -> Result<Signer, RecordsError> {
        let s = &self.settings;
        let endpoint = s
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", s.region));
        let endpoint = url::Url::parse(&endpoint).map_err(|e| io(what, key, e))?;
        let style = match s.path_style {
            true => UrlStyle::Path,
            false => UrlStyle::VirtualHost,
        };
        let bucket = S3Bucket::new(endpoint, style, s.bucket.clone(), s.region.clone())
            .map_err(|e| io(what, key, e))?;
        let creds = credentials(|k| std::env::var(k).ok()).map_err(|e| io(what, key, e))?;
        Ok(Signer { bucket, creds })
    }

    /// Runs `work` with the client and the signer on a thread of its own.
    pub(super) fn run<
        T: Send + 'static,
        Fut: std::future::Future<Output = Result<T, RecordsError>>,
    >(
        &self,
        what: &'static str,
        key: &str,
        work: impl FnOnce(Http, Signer) -> Fut + Send + 'static,
    ) -> Result<T, RecordsError> {
        let signer = self.open(what, key)?;
        s3_http::run(self.settings.net.clone(), None, move |http| {
            work(http, signer)
        })
        .map_err(|e| io(what, key, e))?
    }

    /// The versions of `key` (delete markers too), newest first.
    pub fn versions(&self, key: &str) -> Result<Vec<ObjectVersion>, RecordsError> {
        let owned = key.to_string();
        self.run("listing the versions of", key, move |http, s| async move {
            list_versions(&http, &s, &owned).await
        })
    }

    /// The bytes of version `version_id` of `key`.
    pub fn read_version(&self, key: &str, version_id: &str) -> Result<Vec<u8>, RecordsError> {
        let (owned, id) = (key.to_string(), version_id.to_string());
        self.run("reading", key, move |http, s| async move {
            let req = s.request(http::Method::GET, &owned, &[("versionId", &id)]);
            let sent = s3_http::send(&http, &req, MAX_STATE).await;
            match &sent.answer {
                Ok(a) if a.status.is_success() => Ok(a.body.to_vec()),
                _ => Err(failed("reading", &format!("{owned} version {id}"), &sent)),
            }
        })
    }

    /// Writes `bytes` as the drill's scratch copy at `key` (under
    /// [`SCRATCH_PREFIX`]); returns its version id.
    pub fn put_scratch(&self, key: &str, bytes: Vec<u8>) -> Result<String, RecordsError> {
        check_scratch(key)?;
        self.put_version(key, bytes, Vec::new())
    }

    /// Writes `bytes` at `key` as its new current version; its version id.
    pub(super) fn put_version(
        &self,
        key: &str,
        bytes: Vec<u8>,
        headers: Vec<(&'static str, String)>,
    ) -> Result<String, RecordsError> {
        let owned = key.to_string();
        self.run("writing", key, move |http, s| async move {
            let mut req = s.request(http::Method::PUT, &owned, &[]);
            req.headers.push(("content-md5", content_md5(&bytes)));
            req.headers.extend(headers);
            req.body = Bytes::from(bytes);
            let sent = s3_http::send(&http, &req, MAX_ERROR_BODY).await;
            match &sent.answer {
                Ok(a) if a.status.is_success() => {
                    let id = a.headers.get("x-amz-version-id");
                    Ok(id.and_then(|v| v.to_str().ok()).unwrap_or_default().into())
                }
                _ => Err(failed("writing", &owned, &sent)),
            }
        })
    }

    /// Removes every version of the scratch copies at `keys` (each under
    /// [`SCRATCH_PREFIX`]): nothing of them is left.
    pub fn remove_scratch(&self, keys: &[String]) -> Result<(), RecordsError> {
        for key in keys {
            check_scratch(key)?;
        }
        let Some(first) = keys.first() else {
            return Ok(());
        };
        let owned = keys.to_vec();
        self.run("removing", first, move |http, s| async move {
            for key in &owned {
                for v in list_versions(&http, &s, key).await? {
                    let req = s.request(http::Method::DELETE, key, &[("versionId", &v.version_id)]);
                    let sent = s3_http::send(&http, &req, MAX_ERROR_BODY).await;
                    match &sent.answer {
                        Ok(a) if a.status.is_success() || a.status == 404 => {}
                        _ => return Err(failed("removing", key, &sent)),
                    }
                }
            }
            Ok(())
        })
    }
}

/// A scratch key is under [`SCRATCH_PREFIX`] and holds no `..`.
fn check_scratch(key: &str) -> Result<(), RecordsError> {
    let ok = key.starts_with(SCRATCH_PREFIX) && !key.split('/').any(|p| p == ".." || p.is_empty());
    match ok {
        true => Ok(()),
        false => Err(io(
            "refusing",
            key,
            format!(
                "only the drill's scratch copies (under {SCRATCH_PREFIX}) are written or removed"
            ),
        )),
    }
}

async fn list_versions(
    http: &Http,
    s: &Signer,
    key: &str,
) -> Result<Vec<ObjectVersion>, RecordsError> {
    let mut out = Vec::new();
    let mut marker: Option<(String, String)> = None;
    for _ in 0..MAX_PAGES {
        let mut q: Vec<(&str, &str)> = vec![("versions", ""), ("prefix", key)];
        if let Some((k, v)) = &marker {
            q.extend([
                ("key-marker", k.as_str()),
                ("version-id-marker", v.as_str()),
            ]);
        }
        let sent = s3_http::send(http, &s.request(http::Method::GET, "", &q), LIST_PAGE).await;
        let text = match &sent.answer {
            Ok(a) if a.status.is_success() => String::from_utf8_lossy(&a.body).into_owned(),
            _ => return Err(failed("listing the versions of", key, &sent)),
        };
        let page =
            parse::<xml::ListVersions>(&text).map_err(|e| io("listing the versions of", key, e))?;
        out.extend(page.of_key(key));
        match (
            page.is_truncated,
            page.next_key_marker,
            page.next_version_id_marker,
        ) {
            (Some(true), Some(k), Some(v)) if marker.as_ref() != Some(&(k.clone(), v.clone())) => {
                marker = Some((k, v))
            }
            _ => {
                // Newest first: the latest, then by time; S3's own order
                // (newest first) among versions of the same second.
                out.sort_by(|a, b| {
                    (b.is_latest, &b.last_modified).cmp(&(a.is_latest, &a.last_modified))
                });
                return Ok(out);
            }
        }
    }
    Err(io(
        "listing the versions of",
        key,
        format!("more than {MAX_PAGES} pages of versions"),
    ))
}

/// Parses an S3 answer, read in S3's namespace or none (S3-compatible
/// stores differ).
pub(super) fn parse<T: for<'a> FromXml<'a>>(text: &str) -> Result<T, String> {
    let plain = text.replacen(&format!(" xmlns=\"{}\"", xml::NS), "", 1);
    instant_xml::from_str(&plain).map_err(|e| format!("S3's answer is not what S3 sends: {e}"))
}

/// S3's answers, as much of them as is read.
mod xml {
    use instant_xml::FromXml;

    pub const NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

    #[derive(FromXml)]
    #[xml(rename = "ListVersionsResult")]
    pub struct ListVersions {
        #[xml(rename = "IsTruncated")]
        pub is_truncated: Option<bool>,
        #[xml(rename = "NextKeyMarker")]
        pub next_key_marker: Option<String>,
        #[xml(rename = "NextVersionIdMarker")]
        pub next_version_id_marker: Option<String>,
        pub versions: Vec<Version>,
        pub markers: Vec<DeleteMarker>,
    }

    #[derive(FromXml)]
    #[xml(rename = "Version")]
    pub struct Version {
        #[xml(rename = "Key")]
        pub key: String,
        #[xml(rename = "VersionId")]
        pub version_id: String,
        #[xml(rename = "IsLatest")]
        pub is_latest: Option<bool>,
        #[xml(rename = "LastModified")]
        pub last_modified: String,
        #[xml(rename = "Size")]
        pub size: Option<u64>,
    }

    #[derive(FromXml)]
    #[xml(rename = "DeleteMarker")]
    pub struct DeleteMarker {
        #[xml(rename = "Key")]
        pub key: String,
        #[xml(rename = "VersionId")]
        pub version_id: String,
        #[xml(rename = "IsLatest")]
        pub is_latest: Option<bool>,
        #[xml(rename = "LastModified")]
        pub last_modified: String,
    }

    impl ListVersions {
        /// The versions and delete markers of exactly `key` (the listing's
        /// prefix matches longer keys too).
        pub fn of_key(&self, key: &str) -> Vec<super::ObjectVersion> {
            let versions =
                self.versions
                    .iter()
                    .filter(|v| v.key == key)
                    .map(|v| super::ObjectVersion {
                        version_id: v.version_id.clone(),
                        last_modified: v.last_modified.clone(),
                        size: v.size.unwrap_or(0),
                        is_latest: v.is_latest == Some(true),
                        deleted: false,
                    });
            let markers =
                self.markers
                    .iter()
                    .filter(|m| m.key == key)
                    .map(|m| super::ObjectVersion {
                        version_id: m.version_id.clone(),
                        last_modified: m.last_modified.clone(),
                        size: 0,
                        is_latest: m.is_latest == Some(true),
                        deleted: true,
                    });
            versions.chain(markers).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_keeps_only_its_key_and_delete_markers_count() {
        let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>acme/staging/terraform.tfstate</Prefix>
<IsTruncated>false</IsTruncated>
<Version><Key>acme/staging/terraform.tfstate</Key><VersionId>v2</VersionId><IsLatest>true</IsLatest><LastModified>2026-01-02T00:00:00.000Z</LastModified><ETag>"x"</ETag><Size>12</Size><Owner><ID>o</ID></Owner><StorageClass>STANDARD</StorageClass></Version>
<DeleteMarker><Key>acme/staging/terraform.tfstate</Key><VersionId>d1</VersionId><IsLatest>false</IsLatest><LastModified>2026-01-01T12:00:00.000Z</LastModified></DeleteMarker>
<Version><Key>acme/staging/terraform.tfstate</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest><LastModified>2026-01-01T00:00:00.000Z</LastModified><Size>10</Size></Version>
<Version><Key>acme/staging/terraform.tfstate.tflock</Key><VersionId>l1</VersionId><IsLatest>true</IsLatest><LastModified>2026-01-03T00:00:00.000Z</LastModified><Size>1</Size></Version>
</ListVersionsResult>"#;
        let page = parse::<xml::ListVersions>(text).unwrap();
        let got = page.of_key("acme/staging/terraform.tfstate");
        let ids: Vec<_> = got
            .iter()
            .map(|v| (v.version_id.as_str(), v.deleted))
            .collect();
        assert_eq!(ids, [("v2", false), ("v1", false), ("d1", true)]);
        assert!(got[0].is_latest && got[0].size == 12);
    }

    #[test]
    fn only_scratch_keys_are_written_or_removed() {
        assert!(check_scratch("fleetform-drill/acme/staging/terraform.tfstate").is_ok());
        for bad in [
            "acme/staging/terraform.tfstate",
            "fleetform-drill/../acme/staging/terraform.tfstate",
            "fleetform-drill//x",
        ] {
            assert!(check_scratch(bad).is_err(), "{bad}");
        }
    }
}
