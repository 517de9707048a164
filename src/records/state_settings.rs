//! What the state bucket keeps, for doctor: versioning, lifecycle rules
//! that expire old versions, Object Lock's default retention and default
//! encryption, each as S3 answers it ([`StateBucket::facts`]); and turning
//! versioning on ([`StateBucket::enable_versioning`], doctor --fix). Read
//! and signed through [`super::state_bucket`]'s client.

use bytes::Bytes;

use super::s3::{content_md5, failed, io};
use super::s3_http::{self, Sent, MAX_ERROR_BODY};
use super::state_bucket::{parse, StateBucket};
use super::RecordsError;

/// What the bucket keeps, as S3 answers it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketFacts {
    /// `Enabled`, `Suspended`, or `None` when versioning was never on.
    pub versioning: Option<String>,
    /// Enabled lifecycle rules that expire non-current versions: (rule
    /// id, days).
    pub noncurrent_expiry: Vec<(String, u32)>,
    /// Object Lock's default retention (`COMPLIANCE 30 days`), `Enabled`
    /// without a default, or `None`.
    pub object_lock: Option<String>,
    /// The default encryption's algorithm (`AES256`, `aws:kms`), if any.
    pub encryption: Option<String>,
}

impl StateBucket {
    /// What the bucket keeps: versioning, lifecycle, Object Lock,
    /// encryption (the last three `None` where S3 says there is none).
    pub fn facts(&self) -> Result<BucketFacts, RecordsError> {
        let name = self.name().to_string();
        self.run(
            "reading the settings of",
            &name.clone(),
            move |http, s| async move {
                let sub = |q: &'static str| {
                    let req = s.request(http::Method::GET, "", &[(q, "")]);
                    let http = http.clone();
                    async move { s3_http::send(&http, &req, MAX_ERROR_BODY).await }
                };
                let versioning = body_of(&sub("versioning").await, &name, "versioning")?
                    .map(|t| xml::Versioning::read(&t))
                    .transpose()
                    .map_err(|e| io("reading the versioning of", &name, e))?
                    .flatten();
                let lifecycle = body_of(&sub("lifecycle").await, &name, "lifecycle")?
                    .map(|t| parse::<xml::Lifecycle>(&t))
                    .transpose()
                    .map_err(|e| io("reading the lifecycle rules of", &name, e))?;
                let lock = body_of(&sub("object-lock").await, &name, "object lock")?
                    .map(|t| parse::<xml::ObjectLock>(&t))
                    .transpose()
                    .map_err(|e| io("reading the Object Lock of", &name, e))?;
                let encryption = body_of(&sub("encryption").await, &name, "encryption")?
                    .map(|t| parse::<xml::Encryption>(&t))
                    .transpose()
                    .map_err(|e| io("reading the encryption of", &name, e))?;
                Ok(BucketFacts {
                    versioning,
                    noncurrent_expiry: lifecycle.map(|l| l.noncurrent_expiry()).unwrap_or_default(),
                    object_lock: lock.and_then(|l| l.describe()),
                    encryption: encryption.and_then(|e| e.algorithm()),
                })
            },
        )
    }

    /// Turns versioning on (`PUT ?versioning`, `Status: Enabled`): from
    /// then on every write of a state keeps the version it replaces.
    /// Nothing is deleted or rewritten.
    pub fn enable_versioning(&self) -> Result<(), RecordsError> {
        let name = self.name().to_string();
        self.run("turning on versioning of", &name.clone(), move |http, s| async move {
            let body = "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status></VersioningConfiguration>";
            let mut req = s.request(http::Method::PUT, "", &[("versioning", "")]);
            req.headers.push(("content-md5", content_md5(body.as_bytes())));
            req.body = Bytes::from_static(body.as_bytes());
            let sent = s3_http::send(&http, &req, MAX_ERROR_BODY).await;
            match &sent.answer {
                Ok(a) if a.status.is_success() => Ok(()),
                _ => Err(failed("turning on versioning of", &name, &sent)),
            }
        })
    }
}

/// The body of a bucket setting's answer: `None` when S3 says there is
/// none (404: no lifecycle, no Object Lock, no encryption).
fn body_of(sent: &Sent, bucket: &str, what: &str) -> Result<Option<String>, RecordsError> {
    match &sent.answer {
        Ok(a) if a.status.is_success() => Ok(Some(String::from_utf8_lossy(&a.body).into_owned())),
        Ok(a) if a.status == 404 && !a.describe().contains("NoSuchBucket") => Ok(None),
        _ => Err(failed(
            "reading the settings of",
            &format!("{bucket} ({what})"),
            sent,
        )),
    }
}

/// S3's answers about the bucket's settings.
mod xml {
    use instant_xml::FromXml;

    #[derive(FromXml)]
    #[xml(rename = "VersioningConfiguration")]
    pub struct Versioning {
        #[xml(rename = "Status")]
        pub status: Option<String>,
    }

    /// The same answer as some S3-compatible servers (moto) name it.
    #[derive(FromXml)]
    #[xml(rename = "GetBucketVersioningResponse")]
    pub struct VersioningResponse {
        #[xml(rename = "Status")]
        pub status: Option<String>,
    }

    impl Versioning {
        /// The status S3's answer names (`None`: never turned on).
        pub fn read(text: &str) -> Result<Option<String>, String> {
            super::parse::<Versioning>(text)
                .map(|v| v.status)
                .or_else(|e| {
                    super::parse::<VersioningResponse>(text)
                        .map(|v| v.status)
                        .map_err(|_| e)
                })
        }
    }

    #[derive(FromXml)]
    #[xml(rename = "LifecycleConfiguration")]
    pub struct Lifecycle {
        pub rules: Vec<Rule>,
    }

    #[derive(FromXml)]
    #[xml(rename = "Rule")]
    pub struct Rule {
        #[xml(rename = "ID")]
        pub id: Option<String>,
        #[xml(rename = "Status")]
        pub status: Option<String>,
        pub noncurrent: Option<NoncurrentExpiration>,
    }

    #[derive(FromXml)]
    #[xml(rename = "NoncurrentVersionExpiration")]
    pub struct NoncurrentExpiration {
        #[xml(rename = "NoncurrentDays")]
        pub days: Option<u32>,
    }

    impl Lifecycle {
        pub fn noncurrent_expiry(self) -> Vec<(String, u32)> {
            self.rules
                .into_iter()
                .filter(|r| r.status.as_deref() == Some("Enabled"))
                .filter_map(|r| Some((r.id.unwrap_or_default(), r.noncurrent?.days?)))
                .collect()
        }
    }

    #[derive(FromXml)]
    #[xml(rename = "ObjectLockConfiguration")]
    pub struct ObjectLock {
        #[xml(rename = "ObjectLockEnabled")]
        pub enabled: Option<String>,
        pub rule: Option<LockRule>,
    }

    #[derive(FromXml)]
    #[xml(rename = "Rule")]
    pub struct LockRule {
        pub retention: Option<Retention>,
    }

    #[derive(FromXml)]
    #[xml(rename = "DefaultRetention")]
    pub struct Retention {
        #[xml(rename = "Mode")]
        pub mode: Option<String>,
        #[xml(rename = "Days")]
        pub days: Option<u32>,
        #[xml(rename = "Years")]
        pub years: Option<u32>,
    }

    impl ObjectLock {
        pub fn describe(self) -> Option<String> {
            let enabled = self.enabled.as_deref() == Some("Enabled");
            let r = self.rule.and_then(|r| r.retention);
            match (enabled, r) {
                (false, _) => None,
                (true, Some(r)) => Some(format!(
                    "{} {}",
                    r.mode.unwrap_or_default(),
                    match (r.days, r.years) {
                        (Some(d), _) => format!("{d} days"),
                        (_, Some(y)) => format!("{y} years"),
                        _ => "without a period".into(),
                    }
                )),
                (true, None) => Some("Enabled, no default retention".into()),
            }
        }
    }

    #[derive(FromXml)]
    #[xml(rename = "ServerSideEncryptionConfiguration")]
    pub struct Encryption {
        pub rules: Vec<EncryptionRule>,
    }

    #[derive(FromXml)]
    #[xml(rename = "Rule")]
    pub struct EncryptionRule {
        pub default: Option<EncryptionDefault>,
    }

    #[derive(FromXml)]
    #[xml(rename = "ApplyServerSideEncryptionByDefault")]
    pub struct EncryptionDefault {
        #[xml(rename = "SSEAlgorithm")]
        pub algorithm: Option<String>,
    }

    impl Encryption {
        pub fn algorithm(self) -> Option<String> {
            self.rules
                .into_iter()
                .find_map(|r| r.default.and_then(|d| d.algorithm))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_settings_read_as_facts() {
        let v = parse::<xml::Versioning>(
            r#"<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>"#,
        )
        .unwrap();
        assert_eq!(v.status.as_deref(), Some("Enabled"));
        let off = parse::<xml::Versioning>(
            r#"<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#,
        )
        .unwrap();
        assert_eq!(off.status, None);
        let moto = r#"<GetBucketVersioningResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Suspended</Status></GetBucketVersioningResponse>"#;
        assert_eq!(
            xml::Versioning::read(moto).unwrap().as_deref(),
            Some("Suspended")
        );
        assert!(xml::Versioning::read("<Other/>").is_err());
        let l = parse::<xml::Lifecycle>(
            r#"<LifecycleConfiguration><Rule><ID>old</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays></NoncurrentVersionExpiration></Rule><Rule><ID>off</ID><Status>Disabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule><Rule><ID>tmp</ID><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule></LifecycleConfiguration>"#,
        )
        .unwrap();
        assert_eq!(l.noncurrent_expiry(), [("old".to_string(), 7)]);
        let lock = parse::<xml::ObjectLock>(
            r#"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>30</Days></DefaultRetention></Rule></ObjectLockConfiguration>"#,
        )
        .unwrap();
        assert_eq!(lock.describe().as_deref(), Some("COMPLIANCE 30 days"));
        let e = parse::<xml::Encryption>(
            r#"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>"#,
        )
        .unwrap();
        assert_eq!(e.algorithm().as_deref(), Some("aws:kms"));
    }
}
