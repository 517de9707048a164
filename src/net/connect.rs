//! The connector under every client: TCP to the destination, or to the
//! proxy (`CONNECT` tunnel for https, the request itself for plain http),
//! then TLS for https with the client's roots; all within one connect
//! timeout. Its errors ([`ConnectError`]) say which host, which proxy and
//! what failed, and never hold a proxy's credentials.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::proxy::Proxies;
use super::trust::tls_problem;

/// The longest a TCP connection may take to open.
const TCP_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest the whole connection (TCP, tunnel, handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why no connection was made.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to {target}: {why}")]
    Direct { target: String, why: String },
    #[error("cannot reach {target} through the proxy {proxy}: {why}")]
    Proxy {
        target: String,
        proxy: String,
        why: String,
        /// A refusal that trying again will not change (407).
        permanent: bool,
    },
    #[error("TLS with {target} failed: {problem}; {fix}")]
    Tls {
        target: String,
        problem: String,
        fix: String,
    },
    #[error("no connection to {target} within {} s", CONNECT_TIMEOUT.as_secs())]
    Timeout { target: String },
}

impl ConnectError {
    /// What failed without the destination's name (for a webhook, whose
    /// URL is a secret); a proxy is named without credentials.
    pub fn reason(&self) -> String {
        match self {
            ConnectError::Direct { why, .. } => why.clone(),
            ConnectError::Proxy { proxy, why, .. } => format!("through the proxy {proxy}: {why}"),
            ConnectError::Tls { problem, fix, .. } => format!("TLS failed: {problem}; {fix}"),
            ConnectError::Timeout { .. } => {
                format!("no connection within {} s", CONNECT_TIMEOUT.as_secs())
            }
        }
    }

    /// A failure that trying again will not change: a certificate that is
    /// refused, a proxy that wants credentials.
    pub fn is_permanent(&self) -> bool {
        match self {
            ConnectError::Tls { problem, .. } => !problem.starts_with("the connection failed"),
            ConnectError::Proxy { permanent, .. } => *permanent,
            _ => false,
        }
    }
}

/// The connector (cheap to clone).
#[derive(Clone)]
pub struct Connector {
    tcp: HttpConnector,
    proxies: Arc<Proxies>,
    tls: tokio_rustls::TlsConnector,
    /// The client's own extra-CA setting, named in a TLS refusal.
    ca_setting: Option<&'static str>,
}

impl Connector {
    pub fn new(
        proxies: Arc<Proxies>,
        config: Arc<rustls::ClientConfig>,
        ca_setting: Option<&'static str>,
    ) -> Connector {
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(TCP_TIMEOUT));
        tcp.set_nodelay(true);
        Connector {
            tcp,
            proxies,
            tls: tokio_rustls::TlsConnector::from(config),
            ca_setting,
        }
    }

    async fn connect(self, dst: Uri) -> Result<Conn, ConnectError> {
        let https = dst.scheme_str() == Some("https");
        let host = dst
            .host()
            .unwrap_or_default()
            .trim_matches(|c| c == '[' || c == ']')
            .to_string();
        let port = dst.port_u16().unwrap_or(if https { 443 } else { 80 });
        let target = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let via = self.proxies.via(&dst);
        let mut tcp = self.tcp.clone();
        let (io, proxied) = match via {
            None => {
                let io = tower_service::Service::call(&mut tcp, dst.clone())
                    .await
                    .map_err(|e| ConnectError::Direct {
                        target: target.clone(),
                        why: super::error_text(&e),
                    })?;
                (io, false)
            }
            Some(via) => {
                let proxy = shown(&via.uri);
                let failed = |why: String, permanent: bool| ConnectError::Proxy {
                    target: target.clone(),
                    proxy: proxy.clone(),
                    why,
                    permanent,
                };
                if https {
                    let mut tunnel = Tunnel::new(via.uri.clone(), tcp);
                    if let Some(auth) = via.auth {
                        tunnel = tunnel.with_auth(auth);
                    }
                    let io = tower_service::Service::call(&mut tunnel, dst.clone())
                        .await
                        .map_err(|e| tunnel_failure(&e, failed))?;
                    (io, false)
                } else {
                    let io = tower_service::Service::call(&mut tcp, via.uri.clone())
                        .await
                        .map_err(|e| failed(super::error_text(&e), false))?;
                    (io, true)
                }
            }
        };
        let stream = io.into_inner();
        if !https {
            return Ok(Conn::Plain {
                io: TokioIo::new(stream),
                proxied,
            });
        }
        let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|_| {
            ConnectError::Tls {
                target: target.clone(),
                problem: "the host is not a valid TLS server name".into(),
                fix: "check the URL".into(),
            }
        })?;
        let tls = self.tls.connect(name, stream).await.map_err(|e| {
            let (problem, fix) = tls_problem(&e, self.ca_setting);
            ConnectError::Tls {
                target: target.clone(),
                problem,
                fix,
            }
        })?;
        Ok(Conn::Tls(Box::new(TokioIo::new(tls))))
    }
}

/// `http://host:port` of a proxy (the matcher's URI holds no credentials).
fn shown(uri: &Uri) -> String {
    format!(
        "http://{}",
        uri.authority().map(|a| a.as_str()).unwrap_or_default()
    )
}

/// The tunnel's failure for people (hyper-util does not export its error
/// type; its message and causes are read).
fn tunnel_failure(
    e: &(dyn std::error::Error + Send + Sync + 'static),
    failed: impl Fn(String, bool) -> ConnectError,
) -> ConnectError {
    let text = e.to_string();
    if text.contains("proxy authorization required") {
        failed(
            "the proxy answered 407 Proxy Authentication Required; put its credentials in the proxy URL (http://user:password@host:port, percent-encoded)".into(),
            true,
        )
    } else if text.contains("unsuccessful") {
        failed(
            "the proxy refused the CONNECT tunnel (check that it allows this host and port)".into(),
            false,
        )
    } else if text.contains("failed to create underlying connection") {
        let cause = e.source().map(super::error_text).unwrap_or_default();
        failed(format!("cannot connect to the proxy: {cause}"), false)
    } else {
        failed(super::error_text(e), false)
    }
}

impl tower_service::Service<Uri> for Connector {
    type Response = Conn;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let target = dst.authority().map(|a| a.to_string()).unwrap_or_default();
            tokio::time::timeout(CONNECT_TIMEOUT, this.connect(dst))
                .await
                .map_err(|_| ConnectError::Timeout { target })?
        })
    }
}

/// A connection: plain (to the destination, or to a proxy that is sent
/// the request in absolute form) or TLS.
pub enum Conn {
    Plain {
        io: TokioIo<TcpStream>,
        proxied: bool,
    },
    Tls(Box<TokioIo<TlsStream<TcpStream>>>),
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        match self {
            Conn::Plain { proxied, .. } => Connected::new().proxy(*proxied),
            Conn::Tls(_) => Connected::new(),
        }
    }
}

impl Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain { io, .. } => Pin::new(io).poll_read(cx, buf),
            Conn::Tls(io) => Pin::new(&mut **io).poll_read(cx, buf),
        }
    }
}

impl Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain { io, .. } => Pin::new(io).poll_write(cx, buf),
            Conn::Tls(io) => Pin::new(&mut **io).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain { io, .. } => Pin::new(io).poll_flush(cx),
            Conn::Tls(io) => Pin::new(&mut **io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain { io, .. } => Pin::new(io).poll_shutdown(cx),
            Conn::Tls(io) => Pin::new(&mut **io).poll_shutdown(cx),
        }
    }
}
