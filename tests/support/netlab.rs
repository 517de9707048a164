//! An enterprise network on loopback: a forward proxy ([`ForwardProxy`]:
//! `CONNECT` tunnels and plain requests in absolute form, optionally
//! demanding `Proxy-Authorization: Basic`, logging every request), a
//! private certificate authority made with `openssl` ([`PrivateCa`]), and
//! a TLS front ([`TlsFront`]) serving a plain-HTTP server (the fake GitHub)
//! over https with a certificate of that CA.
//!
//! Each runs on a tokio runtime of its own, stopped when it is dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("test runtime")
}

/// One request the proxy saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// `CONNECT` or the method of a plain request.
    pub method: String,
    /// `host:port` of a tunnel, the absolute URL of a plain request.
    pub target: String,
    /// Whether a `Proxy-Authorization` header came, and whether it was the
    /// expected one.
    pub auth: Auth,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    Right,
    Wrong,
}

/// A forward proxy on `127.0.0.1`.
pub struct ForwardProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    _rt: tokio::runtime::Runtime,
}

impl ForwardProxy {
    /// A proxy; with `credentials`, requests without them are answered 407.
    pub fn start(credentials: Option<(&str, &str)>) -> ForwardProxy {
        let rt = runtime();
        let listener = rt
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("proxy: cannot listen");
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let expected = credentials.map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        let log = seen.clone();
        rt.spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (log, expected) = (log.clone(), expected.clone());
                tokio::spawn(async move {
                    let _ = serve_proxy(conn, log, expected).await;
                });
            }
        });
        ForwardProxy {
            addr,
            seen,
            _rt: rt,
        }
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://user:password@127.0.0.1:port`.
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// The request head (up to the blank line) and what came after it.
async fn read_head(conn: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        let n = conn.read(&mut chunk).await?;
        if n == 0 || buf.len() > 64 * 1024 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn serve_proxy(
    mut conn: TcpStream,
    log: Arc<Mutex<Vec<Seen>>>,
    expected: Option<String>,
) -> std::io::Result<()> {
    let (head, rest) = read_head(&mut conn).await?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let given = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, v)| v.clone());
    let auth = match (&given, &expected) {
        (None, _) => Auth::None,
        (Some(g), Some(e)) if g == e => Auth::Right,
        (Some(_), None) => Auth::Right,
        _ => Auth::Wrong,
    };
    log.lock().unwrap().push(Seen {
        method: method.clone(),
        target: target.clone(),
        auth,
    });
    if expected.is_some() && auth != Auth::Right {
        conn.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await?;
        return Ok(());
    }
    if method == "CONNECT" {
        let mut upstream = TcpStream::connect(&target).await?;
        conn.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await?;
        upstream.write_all(&rest).await?;
        tokio::io::copy_bidirectional(&mut conn, &mut upstream).await?;
        return Ok(());
    }
    // A plain request: `GET http://host:port/path HTTP/1.1`, sent on in
    // origin form without the proxy's header, one per connection.
    let url = url::Url::parse(&target).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    let host = format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(80)
    );
    let mut path = url.path().to_string();
    if let Some(q) = url.query() {
        path.push('?');
        path.push_str(q);
    }
    let version = request_line.rsplit(' ').next().unwrap_or("HTTP/1.1");
    let mut out = format!("{method} {path} {version}\r\n");
    for (k, v) in &headers {
        if !k.eq_ignore_ascii_case("proxy-authorization")
            && !k.eq_ignore_ascii_case("connection")
            && !k.eq_ignore_ascii_case("proxy-connection")
        {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut upstream = TcpStream::connect(&host).await?;
    upstream.write_all(out.as_bytes()).await?;
    upstream.write_all(&rest).await?;
    tokio::io::copy_bidirectional(&mut conn, &mut upstream).await?;
    Ok(())
}

/// A private CA and a server certificate it signed, made with `openssl`
/// (fails, never skips, when openssl is missing).
pub struct PrivateCa {
    pub dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is installed (the private-CA tests make their certificates with it)");
    crate::common::assert_ok_for(format_args!("openssl {args:?}"), &out);
}

impl PrivateCa {
    /// A CA, and a certificate for `names` (`DNS:localhost`, …) it signed.
    pub fn new(names: &str) -> PrivateCa {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("ca.cnf"),
            "[req]\ndistinguished_name=dn\n[dn]\n[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
        )
        .unwrap();
        std::fs::write(
            d.join("server.cnf"),
            format!("subjectAltName={names}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"),
        )
        .unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509", "-config", "ca.cnf", "-extensions", "ca"];
        ca.extend(ec);
        ca.extend(["-keyout", "ca.key", "-out", "ca.pem", "-days", "3"]);
        ca.extend(["-subj", "/CN=fleetform test private CA"]);
        openssl(d, &ca);
        let mut csr = vec!["req", "-config", "ca.cnf"];
        csr.extend(ec);
        csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
        csr.extend(["-subj", "/CN=fleetform test server"]);
        openssl(d, &csr);
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.cnf",
            ],
        );
        PrivateCa { dir }
    }

    /// A server that presents the CA's own certificate (a self-signed
    /// server, as a quick setup makes one).
    pub fn self_signed(names: &str) -> PrivateCa {
        let ca = PrivateCa::new(names);
        let d = ca.dir.path();
        std::fs::copy(d.join("ca.pem"), d.join("server.pem")).unwrap();
        std::fs::copy(d.join("ca.key"), d.join("server.key")).unwrap();
        ca
    }

    /// The CA's certificate (PEM): what `SSL_CERT_FILE` points at.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(self.dir.path().join("server.pem"))
                .unwrap()
                .map(Result::unwrap)
                .collect();
        let key = PrivateKeyDer::from_pem_file(self.dir.path().join("server.key")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        Arc::new(config)
    }
}

/// A TLS front on `127.0.0.1`: each connection's TLS ends here and its
/// bytes go on to `backend` in plain.
pub struct TlsFront {
    addr: SocketAddr,
    handshakes: Arc<Mutex<usize>>,
    _rt: tokio::runtime::Runtime,
}

impl TlsFront {
    pub fn start(ca: &PrivateCa, backend: SocketAddr) -> TlsFront {
        let rt = runtime();
        let listener = rt
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("TLS front: cannot listen");
        let addr = listener.local_addr().unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config());
        let handshakes = Arc::new(Mutex::new(0));
        let done = handshakes.clone();
        rt.spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (acceptor, done) = (acceptor.clone(), done.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(conn).await else {
                        return;
                    };
                    *done.lock().unwrap() += 1;
                    if let Ok(mut plain) = TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    }
                });
            }
        });
        TlsFront {
            addr,
            handshakes,
            _rt: rt,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Handshakes that completed.
    pub fn handshakes(&self) -> usize {
        *self.handshakes.lock().unwrap()
    }
}
