//! Spreading independent model runs over the machine's cores (tract runs each graph on one thread).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use tract_linalg::multithread::{multithread_tract_scope, Executor};

/// Runs `f` with tract's matrix products split over every core (worth it for one large graph run, such as the face
/// detector; small graphs run side by side with [`parallel_map`] instead).
pub(crate) fn with_all_cores<R>(f: impl FnOnce() -> R) -> R {
    static EXECUTOR: OnceLock<Executor> = OnceLock::new();
    let executor = EXECUTOR.get_or_init(|| match std::thread::available_parallelism().map_or(1, |n| n.get()) {
        1 => Executor::SingleThread,
        cores => Executor::multithread_with_name(cores, "emosense-tract"),
    });
    multithread_tract_scope(executor.clone(), f)
}

/// `f` applied to every item, in order, on up to as many threads as there are cores (the calling thread included).
/// A panic in `f` is passed on to the caller.
pub(crate) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len());
    if workers <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= items.len() {
                return done;
            }
            done.push((i, f(&items[i])));
        }
    };
    let mut results: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..workers).map(|_| scope.spawn(work)).collect();
        let mine = work();
        for (i, r) in helpers.into_iter().flat_map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).chain(mine) {
            results[i] = Some(r);
        }
    });
    results.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_of_the_items() {
        let items: Vec<u64> = (0..100).collect();
        assert_eq!(parallel_map(&items, |x| x * x), items.iter().map(|x| x * x).collect::<Vec<_>>());
        assert!(parallel_map(&[] as &[u8], |x| *x).is_empty());
    }
}
