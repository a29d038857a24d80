//! How long an analysis may go on: a deadline and a cancellation flag, checked between units of work (a batch of
//! text chunks, a decoded video frame, a stage of the face pipeline), so a request that outlives its deadline or
//! whose client has gone stops instead of running to the end.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Where a long analysis says how far it is: `done` of `total` (when known) in `unit`s (seconds of a video, windows
/// of a clip). The command line draws it as a bar on a terminal; the default reports nowhere.
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<dyn Fn(f64, Option<f64>, &'static str) + Send + Sync>>);

impl Progress {
    /// Reports to `report`.
    pub fn to(report: impl Fn(f64, Option<f64>, &'static str) + Send + Sync + 'static) -> Self {
        Progress(Some(Arc::new(report)))
    }

    /// Says that `done` of `total` `unit`s are done.
    pub fn report(&self, done: f64, total: Option<f64>, unit: &'static str) {
        if let Some(report) = &self.0 {
            report(done, total, unit);
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Progress(reported)" } else { "Progress(none)" })
    }
}

/// The deadline and cancellation flag of one request; clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    deadline: Option<(Instant, Duration)>,
    cancelled: Arc<AtomicBool>,
}

impl Budget {
    /// No deadline; only [`Budget::cancel`] stops the work.
    pub fn unlimited() -> Self {
        Budget::default()
    }

    /// Work may go on for `timeout` from now.
    pub fn with_timeout(timeout: Duration) -> Self {
        Budget { deadline: Some((Instant::now() + timeout, timeout)), cancelled: Arc::default() }
    }

    /// Asks the work to stop at its next check.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// A guard that cancels the work when dropped (when whoever awaits the answer stops waiting), unless
    /// [`CancelOnDrop::disarm`] was called first.
    pub fn cancel_on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(Some(self.clone()))
    }

    /// `Err` once the deadline has passed or the work was cancelled.
    pub fn check(&self) -> Result<()> {
        if self.cancelled.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        match self.deadline {
            Some((deadline, timeout)) if Instant::now() >= deadline => Err(Error::DeadlineExceeded { seconds: timeout.as_secs_f64() }),
            _ => Ok(()),
        }
    }
}

/// Cancels its budget when dropped; see [`Budget::cancel_on_drop`].
#[derive(Debug)]
pub struct CancelOnDrop(Option<Budget>);

impl CancelOnDrop {
    /// The work finished: dropping the guard no longer cancels anything.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(budget) = self.0.take() {
            budget.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_and_cancellation_stop_the_work() {
        assert!(Budget::unlimited().check().is_ok());
        let expired = Budget::with_timeout(Duration::ZERO);
        assert!(matches!(expired.check(), Err(Error::DeadlineExceeded { .. })));
        let budget = Budget::with_timeout(Duration::from_secs(60));
        let shared = budget.clone();
        drop(budget.cancel_on_drop());
        assert!(matches!(shared.check(), Err(Error::Cancelled)));
        let finished = Budget::unlimited();
        finished.cancel_on_drop().disarm();
        assert!(finished.check().is_ok());
    }
}
