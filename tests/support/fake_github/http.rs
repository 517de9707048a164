//! A small blocking HTTP/1.1 server on `std::net`, one thread per connection.
//!
//! Supports keep-alive, `Content-Length` and chunked request bodies and
//! `Expect: 100-continue`. Being hand written, it lets the fake reset
//! connections or stall answers on purpose. Every blocking read polls a
//! shutdown flag, and a request that has started must complete within
//! [`REQUEST_DEADLINE`], so a stuck client cannot hang a test.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often blocked reads wake up to look at the shutdown flag.
const POLL: Duration = Duration::from_millis(100);
/// Time allowed to receive a whole request once its first byte arrived.
pub(crate) const REQUEST_DEADLINE: Duration = Duration::from_secs(30);
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 32 * 1024 * 1024;

/// A parsed request. Header names are lower case.
#[derive(Debug, Clone)]
pub(crate) struct HttpRequest {
    pub method: String,
    /// The raw path, still percent-encoded, without the query.
    pub path: String,
    /// The raw query string without `?` (empty when absent).
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    keep_alive: bool,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub(crate) struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub(crate) enum Reply {
    Send(HttpResponse),
    /// Drop the connection without answering, with a TCP reset.
    Reset,
}

pub(crate) type Handler = dyn Fn(HttpRequest) -> Reply + Send + Sync + 'static;

pub(crate) struct Server {
    addr: SocketAddr,
    shutdown: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Server {
    /// Listen on 127.0.0.1 with a random port and serve in the background.
    pub fn start(handler: Arc<Handler>, shutdown: Arc<AtomicBool>) -> io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let shutdown = shutdown.clone();
            let connections = connections.clone();
            thread::Builder::new()
                .name("fake-github-accept".into())
                .spawn(move || accept_loop(listener, handler, shutdown, connections))?
        };
        Ok(Server {
            addr,
            shutdown,
            accept: Some(accept),
            connections,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        // Wake the accept loop, which is blocked in `accept`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        let handles = std::mem::take(&mut *lock(&self.connections));
        for handle in handles {
            let _ = handle.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn accept_loop(
    listener: TcpListener,
    handler: Arc<Handler>,
    shutdown: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
) {
    for stream in listener.incoming() {
        if shutdown.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let handler = handler.clone();
        let flag = shutdown.clone();
        let spawned = thread::Builder::new()
            .name("fake-github-conn".into())
            .spawn(move || serve_connection(stream, &*handler, &flag));
        if let Ok(handle) = spawned {
            let mut list = lock(&connections);
            list.retain(|h| !h.is_finished());
            list.push(handle);
        }
    }
}

enum ReadError {
    /// The peer closed the connection, or the server is shutting down.
    Closed,
    /// Malformed or oversized request: answer 400 and close.
    Bad(String),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Closed
    }
}

struct Connection<'a> {
    stream: TcpStream,
    buf: Vec<u8>,
    shutdown: &'a AtomicBool,
}

fn serve_connection(stream: TcpStream, handler: &Handler, shutdown: &AtomicBool) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let mut conn = Connection {
        stream,
        buf: Vec::new(),
        shutdown,
    };
    loop {
        let request = match conn.read_request() {
            Ok(r) => r,
            Err(ReadError::Closed) => return,
            Err(ReadError::Bad(why)) => {
                let resp = HttpResponse {
                    status: 400,
                    headers: vec![("content-type".into(), "text/plain".into())],
                    body: why.into_bytes(),
                };
                let _ = conn.write_response(&resp, false);
                return;
            }
        };
        let keep_alive = request.keep_alive;
        match handler(request) {
            Reply::Reset => {
                // SO_LINGER 0 turns the close into a RST.
                let _ = socket2::SockRef::from(&conn.stream).set_linger(Some(Duration::ZERO));
                return;
            }
            Reply::Send(resp) => {
                let keep = keep_alive && !shutdown.load(Ordering::SeqCst);
                if conn.write_response(&resp, keep).is_err() || !keep {
                    let _ = conn.stream.shutdown(Shutdown::Write);
                    return;
                }
            }
        }
    }
}

impl Connection<'_> {
    /// Read more bytes into the buffer. Without a deadline, waits until data
    /// arrives or the server shuts down.
    fn fill(&mut self, deadline: Option<Instant>) -> Result<(), ReadError> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if self.shutdown.load(Ordering::SeqCst) {
                return Err(ReadError::Closed);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(ReadError::Closed),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(());
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if deadline.is_some_and(|d| Instant::now() > d) {
                        return Err(ReadError::Closed);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn read_line(&mut self, deadline: Instant) -> Result<Vec<u8>, ReadError> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf[..end].to_vec();
                self.buf.drain(..end + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ReadError::Bad("line too long".into()));
            }
            self.fill(Some(deadline))?;
        }
    }

    fn take(&mut self, n: usize, deadline: Instant) -> Result<Vec<u8>, ReadError> {
        while self.buf.len() < n {
            self.fill(Some(deadline))?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    fn read_request(&mut self) -> Result<HttpRequest, ReadError> {
        // Idle keep-alive connections wait for as long as the server lives.
        while self.buf.is_empty() {
            self.fill(None)?;
        }
        let deadline = Instant::now() + REQUEST_DEADLINE;
        let head_end = loop {
            if let Some(pos) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ReadError::Bad("request head too large".into()));
            }
            self.fill(Some(deadline))?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end + 4);

        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let mut parts = request_line.split(' ');
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ReadError::Bad(format!("bad request line {request_line:?}")));
        };
        if !version.starts_with("HTTP/1.") {
            return Err(ReadError::Bad(format!("unsupported version {version}")));
        }
        let mut headers = Vec::new();
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                return Err(ReadError::Bad(format!("bad header line {line:?}")));
            };
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.to_ascii_lowercase())
        };
        let connection = get("connection").unwrap_or_default();
        let keep_alive = if version == "HTTP/1.0" {
            connection.contains("keep-alive")
        } else {
            !connection.contains("close")
        };
        if get("expect").is_some_and(|e| e == "100-continue") {
            self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }

        let body = if get("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
            self.read_chunked(deadline)?
        } else if let Some(len) = get("content-length") {
            let len: usize = len
                .parse()
                .map_err(|_| ReadError::Bad(format!("bad content-length {len:?}")))?;
            if len > MAX_BODY {
                return Err(ReadError::Bad("body too large".into()));
            }
            self.take(len, deadline)?
        } else {
            Vec::new()
        };

        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (target.to_string(), String::new()),
        };
        // Absolute-form targets (`http://host/path`) are allowed by HTTP/1.1.
        let path = match path.strip_prefix("http://") {
            Some(rest) => rest.find('/').map_or("/".into(), |i| rest[i..].to_string()),
            None => path,
        };
        Ok(HttpRequest {
            method: method.to_string(),
            path,
            query,
            headers,
            body,
            keep_alive,
        })
    }

    fn read_chunked(&mut self, deadline: Instant) -> Result<Vec<u8>, ReadError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line(deadline)?;
            let line = String::from_utf8_lossy(&line);
            let size_text = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| ReadError::Bad(format!("bad chunk size {size_text:?}")))?;
            if size == 0 {
                // Trailer section, up to an empty line.
                while !self.read_line(deadline)?.is_empty() {}
                return Ok(body);
            }
            if body.len() + size > MAX_BODY {
                return Err(ReadError::Bad("body too large".into()));
            }
            body.extend(self.take(size, deadline)?);
            if !self.take(2, deadline)?.eq(b"\r\n") {
                return Err(ReadError::Bad("chunk not followed by CRLF".into()));
            }
        }
    }

    fn write_response(&mut self, resp: &HttpResponse, keep_alive: bool) -> io::Result<()> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
        for (name, value) in &resp.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        let bodyless = resp.status == 204 || resp.status == 304 || resp.status < 200;
        if !bodyless {
            out.push_str(&format!("content-length: {}\r\n", resp.body.len()));
        }
        if !keep_alive {
            out.push_str("connection: close\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if !bodyless {
            bytes.extend_from_slice(&resp.body);
        }
        self.stream.write_all(&bytes)?;
        self.stream.flush()
    }
}

pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}
