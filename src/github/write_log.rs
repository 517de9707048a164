//! The write log of the commands that write on a schedule (`drift
//! --issues --write-log FILE`, `sync --write-log FILE`): the times (epoch
//! ms) of the last hour's writes as a JSON list, kept between runs so that
//! consecutive runs count their writes against one hour's budget
//! ([`super::GitHub::count_earlier_writes`],
//! [`super::GitHub::writes_of_the_hour`]). Imports only `util`.
//!
//! # As a layer
//!
//! The write log kept as each write goes out: a run stopped half-way (its job's timeout, a cancel) still hands the
//! next run every write it made. Only a scheduled client has the layer:
//! the hour's writes are the scheduler's, counted when a write gets its
//! slot, which is before the write reaches this layer.

use crate::util::fs::FsError;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The largest write log read (1 MiB).
const MAX_BYTES: u64 = 1024 * 1024;

/// The write times an earlier run kept; a missing file is none. `Err` is
/// the note to show for a file that is not a write log (the hour's budget
/// then counts this run only).
pub fn read(path: &Path) -> Result<Vec<u64>, String> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    // An hour's writes are at most a few thousand times.
    let bytes = crate::util::fs::read_bounded(path, MAX_BYTES)
        .map_err(|e| format!("{e}; this run counts its own writes only"))?;
    serde_json::from_slice(&bytes).map_err(|_| {
        format!(
            "{}: not a write log (a JSON list of times); this run counts its own writes only",
            path.display()
        )
    })
}

/// Keeps `times` at `path` for the next run, atomically.
pub fn write(path: &Path, times: &[u64]) -> Result<(), FsError> {
    let bytes = serde_json::to_vec(times).unwrap_or_default();
    crate::util::fs::write_atomic(path, &bytes)
}

/// The times (epoch ms) of the last hour's writes, this one included.
pub(in crate::github) type HourWrites = Arc<dyn Fn() -> Vec<u64> + Send + Sync>;

/// Writes the hour's writes to `path` before each write is sent.
#[derive(Clone)]
pub(in crate::github) struct WriteLogLayer {
    path: PathBuf,
    hour: HourWrites,
}

impl WriteLogLayer {
    pub(in crate::github) fn new(path: PathBuf, hour: HourWrites) -> Self {
        WriteLogLayer { path, hour }
    }
}

impl<S> tower::Layer<S> for WriteLogLayer {
    type Service = WriteLog<S>;

    fn layer(&self, inner: S) -> WriteLog<S> {
        WriteLog {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`WriteLogLayer`].
#[derive(Clone)]
pub(in crate::github) struct WriteLog<S> {
    inner: S,
    layer: WriteLogLayer,
}

impl<S, B> tower::Service<http::Request<B>> for WriteLog<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> S::Future {
        if request.method() != http::Method::GET {
            // A failure here is reported by the caller's last write of
            // the log, at the end of its run.
            let _ = write(&self.layer.path, &(self.layer.hour)());
        }
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_log_is_empty_a_foreign_file_a_note_and_a_written_one_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("writes.json");
        assert_eq!(read(&path), Ok(Vec::new()));
        std::fs::write(&path, "not json").unwrap();
        assert!(read(&path).unwrap_err().contains("not a write log"));
        write(&path, &[1, 2]).unwrap();
        assert_eq!(read(&path), Ok(vec![1, 2]));
    }

    use std::convert::Infallible;
    use std::sync::Mutex;
    use tower::{Layer as _, Service as _, ServiceExt as _};

    #[test]
    fn each_write_keeps_the_hours_writes_and_reads_keep_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("writes.json");
        let times = Arc::new(Mutex::new(Vec::<u64>::new()));
        let hour: HourWrites = {
            let times = times.clone();
            Arc::new(move || times.lock().unwrap().clone())
        };
        let ok = tower::service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(()) });
        let mut svc = WriteLogLayer::new(path.clone(), hour).layer(ok);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut send = |method: http::Method| {
            let request = http::Request::builder().method(method).body(()).unwrap();
            rt.block_on(async {
                let ready = svc.ready().await.unwrap();
                let () = ready.call(request).await.unwrap();
            });
        };
        times.lock().unwrap().push(1_000);
        send(http::Method::GET);
        assert!(!path.exists(), "a read keeps no log");
        send(http::Method::POST);
        assert_eq!(read(&path).unwrap(), [1_000]);
        times.lock().unwrap().push(2_000);
        send(http::Method::PATCH);
        assert_eq!(read(&path).unwrap(), [1_000, 2_000]);
    }
}
