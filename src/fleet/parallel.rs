//! Order-preserving parallel map on scoped threads: the batch modes of
//! `validate` and `render` spread independent files or customers over the
//! cores and report results in input order.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Worker threads for `--jobs`: the given number, or the number of cores.
/// `Some(0)` is the caller's to refuse; here it means one.
pub fn jobs(requested: Option<usize>) -> usize {
    requested
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

/// Applies `f` to every item on up to `jobs` threads and returns the
/// results in the order of `items`. Items are handed out one at a time, so
/// a slow item never holds up a whole chunk. A panic in `f` is resumed on
/// the calling thread.
pub fn map<T, R, F>(items: &[T], jobs: usize, f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let workers = jobs.max(1).min(items.len());
    if workers <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        done.push((i, f(item)));
                    }
                    done
                })
            })
            .collect();
        for h in handles {
            match h.join() {
                Ok(done) => {
                    for (i, r) in done {
                        slots[i] = Some(r);
                    }
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    slots
        .into_iter()
        .map(|r| r.expect("every item was mapped"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_input_order_on_many_threads() {
        let items: Vec<u64> = (0..1000).collect();
        let out = map(&items, 4, |x| {
            if x % 7 == 0 {
                std::thread::yield_now();
            }
            x * 2
        });
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
    }

    #[test]
    fn empty_and_single_threaded() {
        assert!(map(&[] as &[u8], 8, |x| *x).is_empty());
        assert_eq!(map(&[1, 2, 3], 1, |x| x + 1), [2, 3, 4]);
        assert_eq!(jobs(Some(0)), 1);
        assert!(jobs(None) >= 1);
    }
}
