//! The proxy settings: `https_proxy`/`HTTPS_PROXY`, `http_proxy`/
//! `HTTP_PROXY`, `all_proxy`/`ALL_PROXY` (for either scheme when its own
//! is unset) and `no_proxy`/`NO_PROXY`, the lower-case form first as curl
//! reads them. A proxy is reached over `http://` (https destinations through
//! a `CONNECT` tunnel); credentials in its URL (`http://user:pass@host:port`)
//! are sent as `Proxy-Authorization: Basic` and never shown: every message
//! and the doctor's report show the URL without them. `NO_PROXY` is matched
//! by hyper-util's matcher, which follows curl: a host, a domain (with or
//! without a leading dot) and its subdomains, an IP, a CIDR, or `*`.

use http::{HeaderValue, Uri};
use hyper_util::client::proxy::matcher::Matcher;

use super::NetError;

/// One proxy setting: where it came from and the URL as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySetting {
    /// The variable it was read from, e.g. `https_proxy`.
    pub var: &'static str,
    /// The proxy's URL without credentials, e.g. `http://proxy:3128`.
    pub shown: String,
    /// Whether the URL carries credentials (they are sent, never shown).
    pub credentials: bool,
}

/// The proxies in force, and the matcher that applies them.
pub struct Proxies {
    pub https: Option<ProxySetting>,
    pub http: Option<ProxySetting>,
    /// The `NO_PROXY` list and the variable it came from.
    pub no_proxy: Option<(&'static str, String)>,
    matcher: Matcher,
}

impl std::fmt::Debug for Proxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxies")
            .field("https", &self.https)
            .field("http", &self.http)
            .field("no_proxy", &self.no_proxy)
            .finish_non_exhaustive()
    }
}

/// Where a request goes through a proxy: the proxy's address (without
/// credentials) and its `Proxy-Authorization`, if any.
pub struct Via {
    pub uri: Uri,
    pub auth: Option<HeaderValue>,
}

/// The first of `names` set to something other than blanks.
fn first_set(
    get: &dyn Fn(&str) -> Option<String>,
    names: [&'static str; 2],
) -> Option<(&'static str, String)> {
    names
        .into_iter()
        .find_map(|n| get(n).filter(|v| !v.trim().is_empty()).map(|v| (n, v)))
}

impl Proxies {
    /// No proxy at all.
    pub fn none() -> Proxies {
        Proxies {
            https: None,
            http: None,
            no_proxy: None,
            matcher: Matcher::builder().build(),
        }
    }

    /// The settings of the process environment.
    pub fn from_env() -> Result<Proxies, NetError> {
        Proxies::from_lookup(&|k| std::env::var(k).ok())
    }

    /// The settings `get` returns for each variable name.
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Proxies, NetError> {
        let all = first_set(get, ["all_proxy", "ALL_PROXY"]);
        let https = first_set(get, ["https_proxy", "HTTPS_PROXY"]).or_else(|| all.clone());
        let http = first_set(get, ["http_proxy", "HTTP_PROXY"]).or(all);
        let no_proxy = first_set(get, ["no_proxy", "NO_PROXY"]);
        let https = https.map(|(var, v)| checked(var, &v)).transpose()?;
        let http = http.map(|(var, v)| checked(var, &v)).transpose()?;
        let mut b = Matcher::builder();
        if let Some((_, url)) = &https {
            b = b.https(url.clone());
        }
        if let Some((_, url)) = &http {
            b = b.http(url.clone());
        }
        if let Some((_, list)) = &no_proxy {
            b = b.no(list.clone());
        }
        Ok(Proxies {
            https: https.map(|(s, _)| s),
            http: http.map(|(s, _)| s),
            no_proxy: no_proxy.map(|(var, list)| (var, list.trim().to_string())),
            matcher: b.build(),
        })
    }

    /// The proxy a request to `dst` goes through, or `None` (no proxy set
    /// for its scheme, or `NO_PROXY` names it).
    pub fn via(&self, dst: &Uri) -> Option<Via> {
        // `*` bypasses the proxy for every host, names and IP addresses
        // alike, as curl does (the matcher applies it to names only).
        if self.bypasses_all() {
            return None;
        }
        self.matcher.intercept(dst).map(|i| Via {
            uri: i.uri().clone(),
            auth: i.basic_auth().cloned(),
        })
    }

    fn bypasses_all(&self) -> bool {
        self.no_proxy
            .as_ref()
            .is_some_and(|(_, list)| list.split(',').any(|e| e.trim() == "*"))
    }

    /// The proxy a request to `url` goes through, as shown (for doctor).
    pub fn shown_for(&self, url: &str) -> Option<&ProxySetting> {
        let dst: Uri = url.parse().ok()?;
        self.via(&dst)?;
        if dst.scheme_str() == Some("https") {
            self.https.as_ref()
        } else {
            self.http.as_ref()
        }
    }
}

/// The setting of `var`, checked, and the URL given to the matcher (with
/// its credentials). Errors never quote the value: it may hold a password.
fn checked(var: &'static str, value: &str) -> Result<(ProxySetting, String), NetError> {
    let value = value.trim();
    let full = if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    };
    let bad = |problem: &str| NetError::Proxy {
        var,
        problem: problem.to_string(),
    };
    let url = url::Url::parse(&full).map_err(|_| bad("is not a URL"))?;
    if url.scheme() != "http" {
        return Err(bad(&format!(
            "uses `{}://`; fleetform reaches a proxy over http:// only (https destinations go through a CONNECT tunnel in it)",
            url.scheme()
        )));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("names no host"))?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "has a path, query or fragment; a proxy URL is http://[user:password@]host:port",
        ));
    }
    let port = url.port_or_known_default().unwrap_or(80);
    let credentials = !url.username().is_empty() || url.password().is_some();
    let shown = format!("http://{host}:{port}");
    let userinfo = if credentials {
        format!(
            "{}{}@",
            url.username(),
            url.password().map(|p| format!(":{p}")).unwrap_or_default()
        )
    } else {
        String::new()
    };
    let for_matcher = format!("http://{userinfo}{host}:{port}");
    // The matcher parses on its own; a URL it drops would silently mean no
    // proxy, so it must take this one.
    let probe = Matcher::builder().all(for_matcher.clone()).build();
    if probe
        .intercept(&Uri::from_static("http://probe.invalid/"))
        .is_none()
    {
        return Err(bad("does not parse as a proxy URL (percent-encode special characters in the user name and password)"));
    }
    Ok((
        ProxySetting {
            var,
            shown,
            credentials,
        },
        for_matcher,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Proxies, NetError> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Proxies::from_lookup(&|k| map.get(k).cloned())
    }

    fn via(p: &Proxies, url: &str) -> Option<String> {
        p.via(&url.parse().unwrap()).map(|v| v.uri.to_string())
    }

    #[test]
    fn lower_case_wins_and_all_proxy_fills_in() {
        let p = from(&[
            ("HTTPS_PROXY", "http://upper:1"),
            ("https_proxy", "lower:2"),
            ("ALL_PROXY", "http://all:3"),
        ])
        .unwrap();
        assert_eq!(p.https.as_ref().unwrap().var, "https_proxy");
        assert_eq!(p.https.as_ref().unwrap().shown, "http://lower:2");
        assert_eq!(p.http.as_ref().unwrap().var, "ALL_PROXY");
        assert_eq!(
            via(&p, "https://api.github.com/x").unwrap(),
            "http://lower:2/"
        );
        assert_eq!(via(&p, "http://h/x").unwrap(), "http://all:3/");
        let none = from(&[("HTTPS_PROXY", "  ")]).unwrap();
        assert!(none.https.is_none() && via(&none, "https://x/").is_none());
    }

    #[test]
    fn no_proxy_matches_hosts_domains_ips_and_cidrs_as_curl() {
        let p = from(&[
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("HTTP_PROXY", "http://proxy:3128"),
            (
                "NO_PROXY",
                "ghe.internal, .corp.example, 10.0.0.0/8, ::1, 192.168.1.7",
            ),
        ])
        .unwrap();
        for direct in [
            "https://ghe.internal/api/v3",
            "https://sub.ghe.internal/",
            "https://corp.example/",
            "https://s3.corp.example:9000/",
            "http://10.20.30.40/",
            "http://[::1]:8080/",
            "http://192.168.1.7/",
        ] {
            assert!(via(&p, direct).is_none(), "{direct}");
        }
        for proxied in [
            "https://api.github.com/",
            "https://notghe.internal/",
            "http://11.0.0.1/",
            "http://192.168.1.8/",
            "http://127.0.0.1:9/",
        ] {
            assert!(via(&p, proxied).is_some(), "{proxied}");
        }
        let all = from(&[
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("HTTP_PROXY", "http://proxy:3128"),
            ("no_proxy", "example.com, *"),
        ])
        .unwrap();
        for host in [
            "https://api.github.com/",
            "http://127.0.0.1:9/",
            "http://localhost:8080/",
            "http://[::1]:8080/",
            "https://10.1.2.3/",
        ] {
            assert!(via(&all, host).is_none(), "{host}");
        }
    }

    #[test]
    fn credentials_are_sent_never_shown() {
        let p = from(&[("HTTPS_PROXY", "http://al%40ice:s3cr%3At@proxy.corp:8080")]).unwrap();
        let s = p.https.as_ref().unwrap();
        assert!(s.credentials);
        assert_eq!(s.shown, "http://proxy.corp:8080");
        assert!(!format!("{p:?}").contains("s3cr"));
        let v = p.via(&"https://x/".parse().unwrap()).unwrap();
        assert!(!v.uri.to_string().contains("s3cr"));
        // base64("al@ice:s3cr:t")
        assert_eq!(v.auth.unwrap(), "Basic YWxAaWNlOnMzY3I6dA==");
    }

    #[test]
    fn unusable_proxies_are_refused_without_quoting_them() {
        for (value, says) in [
            ("socks5://u:hunter2@proxy:1080", "socks5"),
            ("https://u:hunter2@proxy:443", "http:// only"),
            ("http://u:hunter2@proxy:3128/path", "path"),
            ("http://u:hunter2@:3128", "not a URL"),
        ] {
            let e = from(&[("HTTPS_PROXY", value)]).unwrap_err().to_string();
            assert!(
                e.contains("HTTPS_PROXY") && e.contains(says),
                "{value}: {e}"
            );
            assert!(!e.contains("hunter2"), "{e}");
        }
    }
}
