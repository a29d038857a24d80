//! A cap on the analyses running at once, with a bounded queue in front of it: a burst of requests waits its turn
//! instead of starting a thread each, and past the queue's length is refused at once (503 with `Retry-After`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::ApiError;

/// Slots for running analyses and a count of those waiting for one.
pub(crate) struct AnalysisGate {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// Leaves the queue when dropped (the slot was granted, or the request gave up waiting).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl AnalysisGate {
    /// `running` analyses at once, `queued` more waiting.
    pub(crate) fn new(running: usize, queued: usize) -> Self {
        AnalysisGate { slots: Arc::new(Semaphore::new(running.max(1))), waiting: AtomicUsize::new(0), max_waiting: queued }
    }

    /// A slot to run one analysis in, held until the permit is dropped; waits in the queue when every slot is busy,
    /// and fails with [`ApiError::Overloaded`] when the queue is full too.
    pub(crate) async fn enter(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError::Overloaded);
        }
        let _in_queue = Waiting(&self.waiting);
        self.slots.clone().acquire_owned().await.map_err(|_| ApiError::Overloaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_is_bounded() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let gate = Arc::new(AnalysisGate::new(1, 1));
            let running = gate.enter().await.unwrap();
            let queued = tokio::spawn({
                let gate = gate.clone();
                async move { gate.enter().await.map(drop) }
            });
            tokio::task::yield_now().await;
            assert!(matches!(gate.enter().await, Err(ApiError::Overloaded)), "one running and one waiting: the third is refused");
            drop(running);
            queued.await.unwrap().unwrap();
            assert!(gate.enter().await.is_ok(), "slots come back");
        });
    }
}
