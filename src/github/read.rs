//! The answer's body read whole, each part within the client's timeout,
//! before the layers above look at it: the retry policy decides on a
//! body ("rate limit" in a 403, JSON that does not parse) and the ETag
//! cache keeps one. GitHub's answers are JSON of at most a few megabytes,
//! which the client reads whole anyway. The body read is also what
//! releases the scheduler's concurrent slot (`schedule`'s `Held`).
//!
//! The answer goes on with a body in memory ([`ReadBody`]) and the same
//! bytes as an extension ([`Read`]), which the layers above read without
//! taking the body. A body that does not arrive in time, or breaks off, is
//! the error [`Unread`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An answer's body, read.
pub(in crate::github) type ReadBody = Full<Bytes>;

/// The answer's body as read, on the answer's extensions.
#[derive(Clone, Debug)]
pub(in crate::github) struct Read(pub Bytes);

/// An answer whose body could not be read: why, in words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(in crate::github) struct Unread(pub String);

/// Reads each answer's body, each part within `timeout`.
#[derive(Clone, Debug)]
pub(in crate::github) struct ReadLayer {
    timeout: Duration,
}

impl ReadLayer {
    pub(in crate::github) fn new(timeout: Duration) -> Self {
        ReadLayer { timeout }
    }
}

impl<S> tower::Layer<S> for ReadLayer {
    type Service = ReadAnswer<S>;

    fn layer(&self, inner: S) -> ReadAnswer<S> {
        ReadAnswer {
            inner,
            timeout: self.timeout,
        }
    }
}

/// The service of [`ReadLayer`].
#[derive(Clone)]
pub(in crate::github) struct ReadAnswer<S> {
    inner: S,
    timeout: Duration,
}

impl<S, Q, B> tower::Service<http::Request<Q>> for ReadAnswer<S>
where
    S: tower::Service<http::Request<Q>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<ReadBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<Q>) -> Self::Future {
        let answer = self.inner.call(request);
        let timeout = self.timeout;
        Box::pin(async move {
            let (mut parts, body) = answer.await.map_err(Into::into)?.into_parts();
            let bytes = read(body, timeout).await?;
            parts.extensions.insert(Read(bytes.clone()));
            Ok(http::Response::from_parts(parts, Full::new(bytes)))
        })
    }
}

/// The body whole, each part within `timeout`.
async fn read<B>(mut body: B, timeout: Duration) -> Result<Bytes, Unread>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    let mut buf = Vec::new();
    loop {
        match tokio::time::timeout(timeout, body.frame()).await {
            Err(_) => return Err(Unread(format!("no data within {} s", timeout.as_secs()))),
            Ok(None) => return Ok(Bytes::from(buf)),
            Ok(Some(Err(e))) => return Err(Unread(crate::net::error_text(&*e.into()))),
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::convert::Infallible;
    use tower::{Layer as _, ServiceExt as _};

    /// A body of these parts, then the end, or nothing more ever.
    struct Parts {
        parts: VecDeque<Result<Bytes, std::io::Error>>,
        stall: bool,
    }

    impl hyper::body::Body for Parts {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
            match self.parts.pop_front() {
                Some(part) => Poll::Ready(Some(part.map(hyper::body::Frame::data))),
                None if self.stall => Poll::Pending,
                None => Poll::Ready(None),
            }
        }
    }

    async fn answer(
        parts: Vec<Result<Bytes, std::io::Error>>,
        stall: bool,
    ) -> Result<http::Response<ReadBody>, BoxError> {
        let body = std::sync::Mutex::new(Some(Parts {
            parts: parts.into(),
            stall,
        }));
        let svc = tower::service_fn(move |_: http::Request<()>| {
            let body = body.lock().unwrap().take().unwrap();
            std::future::ready(Ok::<_, Infallible>(http::Response::new(body)))
        });
        // A stalled body waits out the timeout: a short one.
        let timeout = if stall {
            Duration::from_millis(50)
        } else {
            Duration::from_secs(5)
        };
        ReadLayer::new(timeout)
            .layer(svc)
            .oneshot(http::Request::new(()))
            .await
    }

    #[tokio::test]
    async fn the_body_is_read_whole_and_kept_as_an_extension() {
        let parts = vec![
            Ok(Bytes::from_static(b"{\"a\":")),
            Ok(Bytes::from_static(b"1}")),
        ];
        let answer = answer(parts, false).await.unwrap();
        assert_eq!(answer.extensions().get::<Read>().unwrap().0, "{\"a\":1}");
        let body = answer.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "{\"a\":1}");
    }

    #[tokio::test]
    async fn a_body_that_stops_arriving_is_unread_after_the_timeout() {
        let e = answer(vec![Ok(Bytes::from_static(b"{"))], true)
            .await
            .unwrap_err();
        assert_eq!(e.downcast::<Unread>().unwrap().0, "no data within 0 s");
    }

    #[tokio::test]
    async fn a_body_that_breaks_off_is_unread_with_its_cause() {
        let parts = vec![Err(std::io::Error::other("connection reset"))];
        let e = answer(parts, false).await.unwrap_err();
        assert!(e
            .downcast::<Unread>()
            .unwrap()
            .0
            .contains("connection reset"));
    }
}
