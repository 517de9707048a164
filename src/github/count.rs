//! The request count: every request that goes out, by every client of the
//! process (tokens, Apps, installations, retries included; what `-v`
//! reports), and, per client, the requests it sent and the ones GitHub
//! answered with any status (0 when it could not be reached at all).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

/// Every request this process sent to GitHub.
static SENT: AtomicUsize = AtomicUsize::new(0);

/// How many requests this process sent to GitHub so far.
pub fn sent_by_this_process() -> usize {
    SENT.load(Ordering::SeqCst)
}

/// Counts each request sent (in the process's count and in `sent`), and
/// each answered in `answered`.
#[derive(Clone, Debug)]
pub(in crate::github) struct CountLayer {
    sent: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
}

impl CountLayer {
    pub(in crate::github) fn new(sent: Arc<AtomicUsize>, answered: Arc<AtomicUsize>) -> Self {
        CountLayer { sent, answered }
    }
}

impl<S> tower::Layer<S> for CountLayer {
    type Service = Count<S>;

    fn layer(&self, inner: S) -> Count<S> {
        Count {
            inner,
            counts: self.clone(),
        }
    }
}

/// The service of [`CountLayer`].
#[derive(Clone)]
pub(in crate::github) struct Count<S> {
    inner: S,
    counts: CountLayer,
}

impl<S, R> tower::Service<R> for Count<S>
where
    S: tower::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        SENT.fetch_add(1, Ordering::SeqCst);
        self.counts.sent.fetch_add(1, Ordering::SeqCst);
        let answered = self.counts.answered.clone();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let answer = answer.await;
            if answer.is_ok() {
                answered.fetch_add(1, Ordering::SeqCst);
            }
            answer
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer as _, Service as _, ServiceExt as _};

    #[test]
    fn sent_counts_every_request_answered_only_the_answered_ones() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (sent, answered) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let flaky = tower::service_fn(|fail: bool| async move {
            if fail {
                Err("connection refused")
            } else {
                Ok(200u16)
            }
        });
        let mut svc = CountLayer::new(sent.clone(), answered.clone()).layer(flaky);
        let before = sent_by_this_process();
        rt.block_on(async {
            for fail in [false, true, false] {
                let _ = svc.ready().await.unwrap().call(fail).await;
            }
        });
        // Other tests of the process may send too: at least these three.
        assert!(sent_by_this_process() >= before + 3);
        assert_eq!(sent.load(Ordering::SeqCst), 3);
        assert_eq!(answered.load(Ordering::SeqCst), 2);
    }
}
