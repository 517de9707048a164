//! A loopback S3 endpoint written for the tests: in front of moto it is a
//! proxy that injects S3's transient errors (500 `InternalError`, 503
//! `SlowDown`, a put carried out whose answer is then a 500 or lost);
//! alone it answers what a hostile or broken endpoint would (a body that
//! never ends or lies about its length, a listing that never ends). Every
//! request is logged with what it got, so a test can show that the faults
//! it counts on really happened.
//!
//! A handler decides each answer from the request and its number
//! (counting from 0): `FakeS3::start(upstream, |req, n| ...)`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    /// Without the query.
    pub path: String,
    pub query: String,
    /// Names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_list(&self) -> bool {
        self.method == "GET" && self.query.contains("list-type=2")
    }

    /// A request for one object (GET or PUT of a key, not a listing).
    pub fn is_object(&self, method: &str) -> bool {
        self.method == method && !self.is_list() && self.path.matches('/').count() > 1
    }
}

/// What to answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Pass it on to the upstream (moto) and relay its answer.
    Forward,
    /// An S3 error answer with this status and code, the request not passed on.
    Error(u16, &'static str),
    /// Pass it on (so it is carried out), then answer this error instead.
    ForwardThenError(u16, &'static str),
    /// Pass it on, then close the connection without an answer.
    ForwardThenHangUp,
    /// A complete answer.
    Body {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// `status` with a body of `total` bytes sent in 64 KiB pieces, with
    /// `Content-Length: announced` (or none, the body ending when the
    /// connection does). Nothing of that size is ever held in memory.
    Stream {
        status: u16,
        announced: Option<u64>,
        total: u64,
    },
}

/// A request and what it got.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    /// The status answered (0: none, the connection was closed).
    pub status: u16,
    /// Whether the request reached the upstream.
    pub forwarded: bool,
    /// Bytes of a streamed body written before it ended or the client hung up.
    pub streamed: u64,
    /// Whether the client hung up before the whole stream was written.
    pub cut_off: bool,
}

type Handler = dyn Fn(&Req, usize) -> Reply + Send + Sync;

/// What was answered, and a signal for each entry added.
type Log = (Mutex<Vec<Seen>>, Condvar);

/// The endpoint on a free loopback port, stopped on drop.
pub struct FakeS3 {
    port: u16,
    log: Arc<Log>,
    /// Requests received (each is logged once its answer ends).
    count: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FakeS3 {
    /// `upstream`: the port of moto's server, for [`Reply::Forward`] and
    /// the faults that pass requests on.
    pub fn start(
        upstream: Option<u16>,
        handler: impl Fn(&Req, usize) -> Reply + Send + Sync + 'static,
    ) -> FakeS3 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log: Arc<Log> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let count = Arc::new(AtomicUsize::new(0));
        let (log2, stop2, count2) = (log.clone(), stop.clone(), count.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let _ = conn.set_nodelay(true);
                let (handler, log, count) = (handler.clone(), log2.clone(), count2.clone());
                std::thread::spawn(move || serve(conn, upstream, &*handler, &log, &count));
            }
        });
        FakeS3 {
            port,
            log,
            count,
            stop,
        }
    }

    /// The endpoint for `records: {endpoint: ...}`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request received so far, in the order their answers ended.
    /// Waits for the answers still being written (a client that has exited
    /// makes the last write fail at once); 30 s at most.
    pub fn seen(&self) -> Vec<Seen> {
        let (log, added) = &*self.log;
        let start = Instant::now();
        let mut seen = log.lock().unwrap();
        while seen.len() < self.count.load(Ordering::SeqCst) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "an answer never ended: {seen:?}"
            );
            seen = added
                .wait_timeout(seen, Duration::from_millis(50))
                .unwrap()
                .0;
        }
        seen.clone()
    }
}

impl Drop for FakeS3 {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Answers the requests of one connection until it closes or an answer
/// closes it.
fn serve(
    conn: TcpStream,
    upstream: Option<u16>,
    handler: &Handler,
    log: &Log,
    count: &AtomicUsize,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    while let Some(req) = read_request(&mut reader) {
        let n = count.fetch_add(1, Ordering::SeqCst);
        let reply = handler(&req, n);
        let mut seen = Seen {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            status: 0,
            forwarded: false,
            streamed: 0,
            cut_off: false,
        };
        let keep_open = answer(&mut conn, &req, reply, upstream, &mut seen);
        log.0.lock().unwrap().push(seen);
        log.1.notify_all();
        if !keep_open {
            return;
        }
    }
}

/// Writes the answer; whether the connection may serve another request.
fn answer(
    conn: &mut TcpStream,
    req: &Req,
    reply: Reply,
    upstream: Option<u16>,
    seen: &mut Seen,
) -> bool {
    let mut pass_on = || {
        seen.forwarded = true;
        forward(
            req,
            upstream.expect("a reply that passes requests on needs moto"),
        )
    };
    match reply {
        Reply::Forward => {
            let (status, bytes) = pass_on();
            seen.status = status;
            let _ = conn.write_all(&bytes);
            false
        }
        Reply::Error(status, code) => {
            seen.status = status;
            error(conn, status, code)
        }
        Reply::ForwardThenError(status, code) => {
            pass_on();
            seen.status = status;
            error(conn, status, code)
        }
        Reply::ForwardThenHangUp => {
            pass_on();
            false
        }
        Reply::Body {
            status,
            headers,
            body,
        } => {
            seen.status = status;
            let mut head = format!(
                "HTTP/1.1 {status} {}\r\ncontent-length: {}\r\n",
                reason(status),
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let mut answer = head.into_bytes();
            answer.extend_from_slice(&body);
            conn.write_all(&answer).is_ok()
        }
        Reply::Stream {
            status,
            announced,
            total,
        } => {
            seen.status = status;
            stream(conn, status, announced, total, seen);
            false
        }
    }
}

fn error(conn: &mut TcpStream, status: u16, code: &str) -> bool {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>injected by the test</Message><RequestId>1</RequestId></Error>"
    );
    let text = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/xml\r\ncontent-length: {}\r\n\r\n{body}",
        reason(status),
        body.len()
    );
    conn.write_all(text.as_bytes()).is_ok()
}

fn stream(conn: &mut TcpStream, status: u16, announced: Option<u64>, total: u64, seen: &mut Seen) {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    match announced {
        Some(n) => head.push_str(&format!("content-length: {n}\r\n")),
        None => head.push_str("connection: close\r\n"),
    }
    head.push_str("content-type: application/json\r\n\r\n");
    if conn.write_all(head.as_bytes()).is_err() {
        seen.cut_off = true;
        return;
    }
    let piece = vec![b'x'; 64 * 1024];
    while seen.streamed < total {
        let n = piece.len().min((total - seen.streamed) as usize);
        if conn.write_all(&piece[..n]).is_err() {
            seen.cut_off = true;
            return;
        }
        seen.streamed += n as u64;
    }
    let _ = conn.flush();
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        412 => "Precondition Failed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Other",
    }
}

/// One request from the connection, or None when it closed.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Req> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Req {
        method,
        path,
        query,
        headers,
        body,
    })
}

/// Passes `req` on to moto on `port` (one connection, closed after) and
/// returns the status and its answer, marked to close the connection.
fn forward(req: &Req, port: u16) -> (u16, Vec<u8>) {
    let mut up = TcpStream::connect(("127.0.0.1", port)).expect("moto answers");
    let target = if req.query.is_empty() {
        req.path.clone()
    } else {
        format!("{}?{}", req.path, req.query)
    };
    let mut head = format!("{} {target} HTTP/1.1\r\n", req.method);
    for (k, v) in &req.headers {
        if k != "connection" {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("connection: close\r\n\r\n");
    up.write_all(head.as_bytes()).unwrap();
    up.write_all(&req.body).unwrap();
    let mut answer = Vec::new();
    up.read_to_end(&mut answer).unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("moto answered HTTP");
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut out: Vec<u8> = Vec::new();
    for line in head.split("\r\n") {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"connection: close\r\n\r\n");
    out.extend_from_slice(&answer[split + 4..]);
    (status, out)
}

/// A ListObjectsV2 answer with `keys` (full keys) and, when truncated, the
/// token to continue from.
pub fn list_xml(keys: &[String], next: Option<&str>) -> Vec<u8> {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>",
    );
    for k in keys {
        xml.push_str(&format!(
            "<Contents><Key>{k}</Key><LastModified>2026-11-22T12:00:00.000Z</LastModified><ETag>\"0\"</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>"
        ));
    }
    xml.push_str(&format!(
        "<KeyCount>{}</KeyCount><MaxKeys>1000</MaxKeys>",
        keys.len()
    ));
    match next {
        Some(t) => xml.push_str(&format!(
            "<IsTruncated>true</IsTruncated><NextContinuationToken>{t}</NextContinuationToken>"
        )),
        None => xml.push_str("<IsTruncated>false</IsTruncated>"),
    }
    xml.push_str("</ListBucketResult>");
    xml.into_bytes()
}

/// A complete 200 answer with `body`.
pub fn ok(body: Vec<u8>) -> Reply {
    Reply::Body {
        status: 200,
        headers: vec![("content-type".into(), "application/xml".into())],
        body,
    }
}
