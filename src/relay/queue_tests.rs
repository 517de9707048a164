//! The queue's tests: its hold on GitHub's limits, its flow of batches,
//! and a burst (kept apart from `queue.rs`, which stays a readable size).

use super::*;

mod hold {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A send GitHub's limits defer is put back, the queue waits the
    /// wait, and the same events then leave, each caller answered once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_deferred_batch_is_put_back_and_sent_after_the_wait() {
        let queue = Arc::new(Queue::new(8));
        let tries = Arc::new(AtomicUsize::new(0));
        let sent: Arc<Mutex<Vec<usize>>> = Arc::default();
        let started = tokio::time::Instant::now();
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (queue, tries, sent) = (queue.clone(), tries.clone(), sent.clone());
            tasks.push(tokio::spawn(async move {
                let event = Event {
                    customer: format!("c{i}"),
                    event_type: "fleetform-plan",
                    payload: json!({ "n": i }),
                    since: tokio::time::Instant::now(),
                    asked_at: None,
                };
                let sender = || -> SenderFuture<'static> {
                    let (tries, sent) = (tries.clone(), sent.clone());
                    Box::pin(async move {
                        let s: Sender = Box::new(move |_t, v: Value| {
                            Box::pin(async move {
                                if tries.fetch_add(1, Ordering::SeqCst) == 0 {
                                    return Err(Answer::busy(503, "github_limit", "wait", 1));
                                }
                                let n = v["batch"].as_array().map_or(1, Vec::len);
                                sent.lock().unwrap().push(n);
                                Ok(())
                            })
                        });
                        Ok(s)
                    })
                };
                queue.submit(event, sender).await
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap().is_ok());
        }
        assert_eq!(*sent.lock().unwrap(), [5]);
        assert_eq!(tries.load(Ordering::SeqCst), 2);
        assert!(started.elapsed() >= Duration::from_secs(1));
        assert_eq!(queue.queued(), 0);
    }

    /// A caller sent away is told when its event's dispatch can leave: the
    /// batches ahead of it at the sending client's pace (here 10 s a
    /// dispatch), not only the budget's current hold.
    #[tokio::test]
    async fn the_retry_after_counts_the_batches_ahead() {
        let queue = Queue::new(10);
        queue.set_pace(Arc::new(|n| Duration::from_secs(10 * n as u64)));
        assert_eq!(queue.wait_at(1, Duration::ZERO), Duration::from_secs(10));
        assert_eq!(
            queue.wait_at(25, Duration::from_secs(2)),
            Duration::from_secs(30)
        );
        assert_eq!(
            queue.wait_at(10, Duration::from_secs(90)),
            Duration::from_secs(90)
        );
        let unpaced = Queue::new(10);
        assert_eq!(
            unpaced.wait_at(25, Duration::from_secs(2)),
            Duration::from_secs(2)
        );
    }

    /// Past the caller's patience the wait is the answer, at once.
    #[tokio::test]
    async fn a_wait_past_the_callers_patience_is_answered_at_once() {
        let queue = Queue::new(1);
        *queue.hold.lock().unwrap() = Some(tokio::time::Instant::now() + WAIT * 2);
        let started = tokio::time::Instant::now();
        let event = Event {
            customer: "c".into(),
            event_type: "fleetform-plan",
            payload: json!({}),
            since: tokio::time::Instant::now(),
            asked_at: None,
        };
        let never = || -> SenderFuture<'static> { Box::pin(async { panic!("nothing is sent") }) };
        let answer = queue.submit(event, never).await.unwrap_err();
        assert_eq!(answer.body["error"], "queued_too_long");
        assert!(answer.body["retry_after"].as_u64() >= Some(WAIT.as_secs() * 2 - 1));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(queue.queued(), 0);
    }
}

mod flow {
    use super::*;
    use std::sync::{Arc, Mutex as StdMutex};

    /// A sender that records each dispatch's number of events in `sent`
    /// and takes `takes` to send.
    pub(super) fn recording_sender(
        sent: Arc<StdMutex<Vec<usize>>>,
        takes: Duration,
    ) -> impl Fn() -> SenderFuture<'static> {
        move || {
            let sent = sent.clone();
            Box::pin(async move {
                let s: Sender = Box::new(move |_t, v: Value| {
                    Box::pin(async move {
                        let n = v["batch"].as_array().map_or(1, Vec::len);
                        sent.lock().unwrap().push(n);
                        tokio::time::sleep(takes).await;
                        Ok(())
                    })
                });
                Ok(s)
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_event_leaves_in_a_batch_and_each_caller_learns_it() {
        let queue = Arc::new(Queue::new(8));
        let sent: Arc<StdMutex<Vec<usize>>> = Arc::default();
        let mut tasks = Vec::new();
        for i in 0..100 {
            let (queue, sent) = (queue.clone(), sent.clone());
            tasks.push(tokio::spawn(async move {
                let event = Event {
                    customer: format!("c{}", i % 30),
                    event_type: "fleetform-plan",
                    payload: json!({ "n": i }),
                    since: tokio::time::Instant::now(),
                    asked_at: None,
                };
                let sender = recording_sender(sent, Duration::from_millis(20));
                queue.submit(event, sender).await
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap().is_ok());
        }
        let sent = sent.lock().unwrap();
        assert_eq!(sent.iter().sum::<usize>(), 100, "{sent:?}");
        assert!(sent.iter().all(|n| *n <= 8), "{sent:?}");
    }
}

mod burst {
    use super::*;
    use std::sync::{Arc, Mutex as StdMutex};

    /// A burst of 300 customers at 15 a second (driven time, each send
    /// taking 300 ms): batches fill (at most 30 dispatches; a fixed 100 ms
    /// linger sent 51), and a lone event before the burst still leaves
    /// after [`LINGER`].
    #[tokio::test(start_paused = true)]
    async fn under_a_burst_batches_fill_and_a_lone_event_is_not_kept() {
        let queue = Arc::new(Queue::new(MAX_BATCH));
        let sent: Arc<StdMutex<Vec<usize>>> = Arc::default();
        let submit = |i: usize| {
            let (queue, sent) = (queue.clone(), sent.clone());
            tokio::spawn(async move {
                let event = Event {
                    customer: format!("c{i}"),
                    event_type: "fleetform-plan",
                    payload: json!({ "n": i }),
                    since: tokio::time::Instant::now(),
                    asked_at: None,
                };
                let sender = super::flow::recording_sender(sent, Duration::from_millis(300));
                queue.submit(event, sender).await
            })
        };
        let lone = tokio::time::Instant::now();
        assert!(submit(10_000).await.unwrap().is_ok());
        assert_eq!(lone.elapsed(), LINGER + Duration::from_millis(300));
        // Idle again, then the burst.
        tokio::time::sleep(BUSY_WINDOW * 2).await;
        let mut tasks = Vec::new();
        for i in 0..300 {
            tasks.push(submit(i));
            tokio::time::sleep(Duration::from_millis(66)).await;
        }
        for t in tasks {
            assert!(t.await.unwrap().is_ok());
        }
        let sent = sent.lock().unwrap();
        let burst = &sent[1..];
        assert_eq!(burst.iter().sum::<usize>(), 300, "{sent:?}");
        assert!(burst.len() <= 30, "{} dispatches: {sent:?}", burst.len());
    }
}
