//! The one HTTP client setup every outbound request uses (GitHub's REST
//! API and the App token exchange, the S3 records store, notifications,
//! the relay's own calls): hyper over the connector of `connect`, which
//! goes through the proxies of `proxy` (`HTTPS_PROXY`, `HTTP_PROXY`,
//! `NO_PROXY`, …) and trusts the roots of `trust` (bundled, the system's,
//! `SSL_CERT_FILE`/`SSL_CERT_DIR`, and a client's own extra bundle).
//!
//! The settings are a value ([`Settings`]) made where a command starts and
//! passed down, read from the environment once, on first use; a bad one is
//! an error naming the variable and never quoting a proxy's credentials.
//!
//! May import: `util` (reading a CA bundle file).

mod connect;
pub mod proxy;
pub mod trust;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioExecutor;

pub use connect::ConnectError;
pub use proxy::{Proxies, ProxySetting};
pub use trust::Trust;

/// A setting the network cannot be used with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NetError {
    /// Never quotes the value: it may hold a password.
    #[error("{var} {problem}; set it to http://[user:password@]host:port, or unset it")]
    Proxy { var: &'static str, problem: String },
    #[error("{setting} names {}, which {problem}; point it at a PEM bundle of CA certificates, or unset it", path.display())]
    Trust {
        setting: String,
        path: PathBuf,
        problem: String,
    },
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// The proxies and roots of one environment.
#[derive(Debug)]
pub struct Net {
    pub proxies: Arc<Proxies>,
    pub trust: Trust,
}

impl Net {
    /// The settings `get` returns for each variable.
    pub fn load(get: &dyn Fn(&str) -> Option<String>) -> Result<Net, NetError> {
        Ok(Net {
            proxies: Arc::new(Proxies::from_lookup(get)?),
            trust: Trust::load(get)?,
        })
    }
}

/// Reads a setting by name (the environment's, or a test's).
type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The network settings of one command (or service), made where it
/// starts and passed down to whoever makes a client: read from its
/// lookup on first use, once (a command that never connects never reads
/// the trust roots), and the same settings, or the same error, at every
/// use after. Clones share them; two made apart share nothing.
#[derive(Clone)]
pub struct Settings {
    inner: Arc<Lazy>,
}

struct Lazy {
    lookup: Box<Lookup>,
    net: OnceLock<Result<Net, NetError>>,
}

impl Settings {
    /// The settings of this process's environment.
    pub fn from_env() -> Settings {
        Settings::from_lookup(|k| std::env::var(k).ok())
    }

    /// The settings `get` returns for each variable.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Settings {
        Settings {
            inner: Arc::new(Lazy {
                lookup: Box::new(get),
                net: OnceLock::new(),
            }),
        }
    }

    /// The settings, read on first use.
    pub fn get(&self) -> Result<&Net, NetError> {
        let lazy = &*self.inner;
        lazy.net
            .get_or_init(|| Net::load(&*lazy.lookup))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// [`client`] with these settings.
    pub fn client(
        &self,
        extra: Option<&ExtraCa>,
        ca_setting: Option<&'static str>,
    ) -> Result<Client, NetError> {
        client(self.get()?, extra, ca_setting)
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("read", &self.inner.net.get().is_some())
            .finish_non_exhaustive()
    }
}

/// An extra CA bundle for one client: the setting that names it (shown in
/// messages) and the file.
#[derive(Debug, Clone)]
pub struct ExtraCa {
    pub setting: &'static str,
    pub path: PathBuf,
}

/// An HTTP/1.1 client over the shared connector.
#[derive(Clone)]
pub struct Client {
    inner: hyper_util::client::legacy::Client<connect::Connector, Full<Bytes>>,
    proxies: Arc<Proxies>,
    /// The roots this client trusts, described (for doctor).
    pub trust: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

/// A client with `net`'s proxies and roots, and `extra`'s bundle trusted
/// too; `ca_setting` is named in a TLS refusal as what fixes it (the
/// client's extra-bundle setting, if it has one).
pub fn client(
    net: &Net,
    extra: Option<&ExtraCa>,
    ca_setting: Option<&'static str>,
) -> Result<Client, NetError> {
    let trust = match extra {
        Some(x) => net.trust.with_extra(x.setting, &x.path)?,
        None => net.trust.clone(),
    };
    client_with(net.proxies.clone(), &trust, ca_setting)
}

/// A client with these proxies and roots.
pub fn client_with(
    proxies: Arc<Proxies>,
    trust: &Trust,
    ca_setting: Option<&'static str>,
) -> Result<Client, NetError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| NetError::Tls(e.to_string()))?
        .with_root_certificates(trust.roots.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = connect::Connector::new(proxies.clone(), Arc::new(config), ca_setting);
    Ok(Client {
        inner: hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector),
        proxies,
        trust: trust.describe(),
    })
}

impl Client {
    /// Sends `req`; a plain-http request that goes through a proxy carries
    /// the proxy's credentials (an https one sends them in its `CONNECT`).
    pub async fn request(
        &self,
        mut req: http::Request<Full<Bytes>>,
    ) -> Result<http::Response<hyper::body::Incoming>, hyper_util::client::legacy::Error> {
        if req.uri().scheme_str() == Some("http") {
            if let Some(auth) = self.proxies.via(req.uri()).and_then(|v| v.auth) {
                req.headers_mut()
                    .insert(http::header::PROXY_AUTHORIZATION, auth);
            }
        }
        self.inner.request(req).await
    }
}

/// The connector's own failure in `e`'s causes, if any.
pub fn connect_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a ConnectError> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(found) = c.downcast_ref::<ConnectError>() {
            return Some(found);
        }
        cause = c.source();
    }
    None
}

/// An error for people: the connector's message when it failed to
/// connect (which host, which proxy, what failed), else the error with its
/// causes (hyper's own says only "client error").
pub fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    if let Some(c) = connect_error(e) {
        return c.to_string();
    }
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The described settings for one destination, for doctor: the proxy it
/// goes through (or `directly`, and why) and the roots trusted, e.g.
/// `through the proxy http://proxy:3128 (HTTPS_PROXY, with credentials);
/// trusting bundled Mozilla roots (146), …`. Never a credential.
pub fn describe_route(net: &Net, url: &str, extra: Option<&Path>) -> String {
    let proxy = match net.proxies.shown_for(url) {
        Some(p) => format!(
            "through the proxy {} ({}{})",
            p.shown,
            p.var,
            if p.credentials {
                ", with credentials"
            } else {
                ""
            }
        ),
        None => {
            let scheme_proxy = if url.starts_with("https:") {
                &net.proxies.https
            } else {
                &net.proxies.http
            };
            match (scheme_proxy, &net.proxies.no_proxy) {
                (Some(_), Some((var, _))) => format!("directly ({var} names the host)"),
                _ => "directly (no proxy set)".into(),
            }
        }
    };
    let extra = extra
        .map(|p| format!(" + {}", p.display()))
        .unwrap_or_default();
    format!("{proxy}; trusting {}{extra}", net.trust.describe())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two commands' settings side by side: each reads its own lookup, once,
    /// and a bad setting in one is no error in the other.
    #[test]
    fn two_settings_side_by_side_share_nothing() {
        let proxy = |value: &'static str| {
            Settings::from_lookup(move |k| (k == "HTTPS_PROXY").then(|| value.to_string()))
        };
        let a = proxy("http://proxy-a.internal:3128");
        let b = proxy("http://proxy-b.internal:3128");
        let shown = |s: &Settings| {
            let net = s.get().unwrap();
            net.proxies
                .shown_for("https://api.github.com/")
                .map(|p| p.shown.clone())
        };
        assert_eq!(shown(&a).as_deref(), Some("http://proxy-a.internal:3128"));
        assert_eq!(shown(&b).as_deref(), Some("http://proxy-b.internal:3128"));
        // A clone shares its settings; they are read once.
        assert!(std::ptr::eq(a.get().unwrap(), a.clone().get().unwrap()));
        let bad = proxy("not a proxy");
        assert!(matches!(
            bad.get(),
            Err(NetError::Proxy {
                var: "HTTPS_PROXY",
                ..
            })
        ));
        assert!(Settings::from_lookup(|_| None).get().is_ok());
        assert!(shown(&a).is_some());
    }
}
