//! Which certificate authorities a TLS server may be signed by: the bundled
//! Mozilla roots (`webpki-roots`), the platform's store as
//! `rustls-native-certs` reads it (on Linux and the BSDs the bundle and
//! certificate folders `openssl-probe` knows: Debian/Ubuntu/Alpine,
//! RHEL/Fedora, SUSE, …; the keychain on macOS, the system store on
//! Windows), `SSL_CERT_FILE` and every file in the directories of
//! `SSL_CERT_DIR` (`:`-separated), all at once; plus, for one client only,
//! the extra bundle its own setting names (`FLEETFORM_GITHUB_CA_FILE`,
//! `records: ca_file:`). A variable or setting naming a file that cannot be
//! read or holds no certificate is an error saying which; a platform store
//! that is missing is not (the bundled roots remain).
//!
//! A failed handshake is told apart here ([`tls_problem`]): unknown issuer,
//! a name the certificate does not cover, expired or not yet valid, with
//! the setting that fixes it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use super::NetError;

/// One source of trusted roots and how many certificates it gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// E.g. `bundled Mozilla roots`, `system store`, `SSL_CERT_FILE
    /// /path`.
    pub what: String,
    pub certificates: usize,
}

/// The roots every client trusts, and where they came from.
#[derive(Debug, Clone)]
pub struct Trust {
    pub roots: Arc<RootCertStore>,
    pub sources: Vec<Source>,
}

/// A CA bundle a setting names is at most this big (the system's is about
/// 200 KiB).
const MAX_BUNDLE: u64 = 16 << 20;

/// Adds `certs` to `roots`; how many were usable.
fn add(roots: &mut RootCertStore, certs: Vec<CertificateDer<'static>>) -> usize {
    roots.add_parsable_certificates(certs).0
}

/// The certificates of the file a setting names: an error when it cannot
/// be read (a FIFO, device or folder is refused without waiting on it) or
/// holds none.
pub fn required_bundle(
    setting: &str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, NetError> {
    let bad = |problem: String| NetError::Trust {
        setting: setting.to_string(),
        path: path.to_path_buf(),
        problem,
    };
    let bytes = crate::util::fs::read_setting_file(path, MAX_BUNDLE)
        .map_err(|e| bad(format!("cannot be read ({e})")))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(bad(
            "holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)".into(),
        ));
    }
    Ok(certs)
}

/// The certificates of the PEM files in `dir`, read by rustls-native-certs
/// (files that are not PEM, and anything not a regular file, are skipped,
/// as OpenSSL does); an error when `dir` cannot be listed.
fn dir_certificates(dir: &Path) -> Result<Vec<CertificateDer<'static>>, NetError> {
    let found = rustls_native_certs::load_certs_from_paths(None, Some(dir));
    let unlisted = found.errors.iter().find_map(|e| match &e.kind {
        rustls_native_certs::ErrorKind::Io { inner, path } if path == dir => Some(inner),
        _ => None,
    });
    match unlisted {
        Some(e) => Err(NetError::Trust {
            setting: "SSL_CERT_DIR".into(),
            path: dir.to_path_buf(),
            problem: format!("cannot be listed ({e})"),
        }),
        None => Ok(found.certs),
    }
}

/// The platform's store, as rustls-native-certs reads it; nothing when it
/// is missing. The crate reads `SSL_CERT_FILE` and `SSL_CERT_DIR` *instead
/// of* the platform's store when either is set, and fleetform trusts them
/// besides it ([`Trust::load`] reads them, with their errors): then, on
/// Linux and the BSDs, the platform's certificate folders are read the
/// crate's way without the variables; on macOS and Windows the variables
/// take the store's place.
fn platform_store(variables_set: bool) -> Vec<CertificateDer<'static>> {
    if !variables_set {
        return rustls_native_certs::load_native_certs().certs;
    }
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        openssl_probe::candidate_cert_dirs()
            .flat_map(|d| rustls_native_certs::load_certs_from_paths(None, Some(d)).certs)
            .collect()
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        Vec::new()
    }
}

impl Trust {
    /// The roots of the bundled set, the platform and the environment
    /// (`get` reads a variable).
    pub fn load(get: &dyn Fn(&str) -> Option<String>) -> Result<Trust, NetError> {
        let set = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let file = set("SSL_CERT_FILE").map(|f| PathBuf::from(f.trim()));
        let dirs: Vec<PathBuf> = set("SSL_CERT_DIR")
            .map(|d| {
                d.split(':')
                    .filter(|d| !d.trim().is_empty())
                    .map(|d| PathBuf::from(d.trim()))
                    .collect()
            })
            .unwrap_or_default();
        // The settings first: one that cannot be used is an error before
        // anything else is read.
        let mut named = Vec::new();
        if let Some(path) = &file {
            named.push((
                format!("SSL_CERT_FILE {}", path.display()),
                required_bundle("SSL_CERT_FILE", path)?,
            ));
        }
        for dir in &dirs {
            named.push((
                format!("SSL_CERT_DIR {}", dir.display()),
                dir_certificates(dir)?,
            ));
        }
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let mut sources = vec![Source {
            what: "bundled Mozilla roots".into(),
            certificates: roots.len(),
        }];
        let platform = platform_store(!named.is_empty());
        if !platform.is_empty() {
            sources.push(Source {
                what: "system store".into(),
                certificates: add(&mut roots, platform),
            });
        }
        for (what, certs) in named {
            sources.push(Source {
                what,
                certificates: add(&mut roots, certs),
            });
        }
        Ok(Trust {
            roots: Arc::new(roots),
            sources,
        })
    }

    /// These roots and the extra bundle `setting` names at `path`.
    pub fn with_extra(&self, setting: &str, path: &Path) -> Result<Trust, NetError> {
        let certs = required_bundle(setting, path)?;
        let mut roots = (*self.roots).clone();
        let n = add(&mut roots, certs);
        let mut sources = self.sources.clone();
        sources.push(Source {
            what: format!("{setting} {}", path.display()),
            certificates: n,
        });
        Ok(Trust {
            roots: Arc::new(roots),
            sources,
        })
    }

    /// A summary for people: `bundled Mozilla roots (146), system store
    /// (140)`.
    pub fn describe(&self) -> String {
        self.sources
            .iter()
            .map(|s| format!("{} ({})", s.what, s.certificates))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What went wrong in a handshake, for people: the problem and what fixes
/// it. `ca_setting` is the client's own extra-bundle setting, if it has
/// one.
pub fn tls_problem(e: &std::io::Error, ca_setting: Option<&str>) -> (String, String) {
    use rustls::CertificateError as C;
    let trust_fix = match ca_setting {
        Some(s) => format!("trust its CA: install it in the runner's system store, or set SSL_CERT_FILE (a PEM bundle) or SSL_CERT_DIR, or {s}"),
        None => "trust its CA: install it in the runner's system store, or set SSL_CERT_FILE (a PEM bundle) or SSL_CERT_DIR".into(),
    };
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    let Some(rustls::Error::InvalidCertificate(cert)) = inner else {
        return match inner {
            Some(other) => (
                format!("the TLS handshake failed ({other})"),
                "check that the address speaks https and that no proxy or firewall intercepts it"
                    .into(),
            ),
            None => (
                format!("the connection failed during the TLS handshake ({e})"),
                "check that the address speaks https, and the network".into(),
            ),
        };
    };
    match cert {
        C::UnknownIssuer => (
            "unknown issuer: the server's certificate is not signed by a CA fleetform trusts".into(),
            trust_fix,
        ),
        C::NotValidForName | C::NotValidForNameContext { .. } => (
            "name mismatch: the server's certificate is not issued for this host name".into(),
            "use the host name the certificate is issued for (GITHUB_API_URL, the records endpoint, the URL), or have the certificate reissued".into(),
        ),
        C::Expired | C::ExpiredContext { .. } => (
            "expired: the server's certificate has expired".into(),
            "the server's certificate must be renewed (or the runner's clock is wrong)".into(),
        ),
        C::NotValidYet | C::NotValidYetContext { .. } => (
            "not yet valid: the server's certificate is not valid yet".into(),
            "check the runner's clock, or the server's certificate".into(),
        ),
        C::BadSignature => (
            "bad signature: the server's certificate does not verify against its issuer".into(),
            "have the server's certificate reissued by its CA".into(),
        ),
        C::Revoked => (
            "revoked: the server's certificate was revoked by its CA".into(),
            "the server needs a new certificate".into(),
        ),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => (
            "wrong purpose: the server's certificate is not issued for TLS servers".into(),
            "have it reissued for server authentication (extended key usage serverAuth)".into(),
        ),
        C::Other(o) if format!("{o:?}").contains("CaUsedAsEndEntity") => (
            "self-signed: the server presents a CA certificate as its own".into(),
            format!("give the server a certificate issued by a CA (not the CA itself), and {trust_fix}"),
        ),
        other => (
            format!(
                "the server's certificate is refused: {}",
                in_words(&format!("{other:?}"))
            ),
            trust_fix,
        ),
    }
}

/// A rustls/webpki error name in words: `Other(OtherError(
/// UnsupportedCriticalExtension))` → `unsupported critical extension`.
fn in_words(debug: &str) -> String {
    let inner = debug
        .rsplit('(')
        .next()
        .unwrap_or(debug)
        .trim_end_matches([')', ' ', '}'])
        .split([' ', '{', ','])
        .next()
        .unwrap_or(debug);
    let mut out = String::new();
    for (i, c) in inner.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod words_tests {
    use super::in_words;

    #[test]
    fn a_refusal_is_said_in_words_never_as_a_debug_dump() {
        assert_eq!(
            in_words("Other(OtherError(UnsupportedCriticalExtension))"),
            "unsupported critical extension"
        );
        assert_eq!(
            in_words("UnhandledCriticalExtension"),
            "unhandled critical extension"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_roots_are_always_there_and_settings_must_read() {
        let t = Trust::load(&|_| None).unwrap();
        assert!(t.sources[0].certificates > 100, "{:?}", t.sources);
        assert!(t.describe().starts_with("bundled Mozilla roots ("));
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let m = missing.display().to_string();
        let e = Trust::load(&|k| (k == "SSL_CERT_FILE").then(|| m.clone()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SSL_CERT_FILE") && e.contains("cannot be read"),
            "{e}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        let e = t
            .with_extra("FLEETFORM_GITHUB_CA_FILE", &empty)
            .unwrap_err();
        assert!(e.to_string().contains("holds no PEM certificate"), "{e}");
        let d = dir.path().join("nodir").display().to_string();
        let e = Trust::load(&|k| (k == "SSL_CERT_DIR").then(|| d.clone())).unwrap_err();
        assert!(
            e.to_string().contains("SSL_CERT_DIR") && e.to_string().contains("cannot be listed"),
            "{e}"
        );
    }

    /// The platform's store (read by rustls-native-certs) and the
    /// variables are trusted at once: setting `SSL_CERT_DIR` keeps the
    /// platform's roots. A folder's PEM files count, anything else in it
    /// (text, a FIFO) is skipped without waiting.
    #[test]
    fn the_platform_store_and_the_variables_are_trusted_at_once() {
        let platform = platform_store(false);
        assert!(
            !platform.is_empty(),
            "this test needs the platform's CA store (apt-get install ca-certificates)"
        );
        let alone = Trust::load(&|_| None).unwrap();
        let system = |t: &Trust| {
            t.sources
                .iter()
                .find(|s| s.what == "system store")
                .map(|s| s.certificates)
        };
        assert!(system(&alone).is_some_and(|n| n > 0), "{:?}", alone.sources);
        let dir = tempfile::tempdir().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::Engine::encode(&b64, platform[0].as_ref())
        );
        std::fs::write(dir.path().join("ca.pem"), pem).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a certificate").unwrap();
        #[cfg(unix)]
        assert!(std::process::Command::new("mkfifo")
            .arg(dir.path().join("pipe"))
            .status()
            .unwrap()
            .success());
        let d = dir.path().display().to_string();
        let both = Trust::load(&|k| (k == "SSL_CERT_DIR").then(|| d.clone())).unwrap();
        assert_eq!(system(&both), system(&alone), "{:?}", both.sources);
        let named = both.sources.last().unwrap();
        assert_eq!(
            (named.what.as_str(), named.certificates),
            (format!("SSL_CERT_DIR {d}").as_str(), 1)
        );
    }

    #[test]
    fn handshake_failures_say_what_and_which_setting_fixes_it() {
        let io = |c: rustls::CertificateError| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                rustls::Error::InvalidCertificate(c),
            )
        };
        let (what, fix) = tls_problem(
            &io(rustls::CertificateError::UnknownIssuer),
            Some("FLEETFORM_GITHUB_CA_FILE"),
        );
        assert!(what.starts_with("unknown issuer"), "{what}");
        assert!(fix.contains("SSL_CERT_FILE") && fix.contains("FLEETFORM_GITHUB_CA_FILE"));
        let (what, _) = tls_problem(&io(rustls::CertificateError::NotValidForName), None);
        assert!(what.starts_with("name mismatch"), "{what}");
        let (what, _) = tls_problem(&io(rustls::CertificateError::Expired), None);
        assert!(what.starts_with("expired"), "{what}");
    }
}
