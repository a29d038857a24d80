//! A progress line on stderr for long work (`--jsonl`, videos, long audio, the evaluations), drawn only when stderr
//! is a terminal: piped or redirected output stays clean.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use emosense_core::Progress;

/// The line is redrawn at most this often (and always at the end).
const REDRAW: Duration = Duration::from_millis(100);
/// Characters of the bar when the total is known.
const WIDTH: usize = 30;

/// One progress line; cleared when dropped.
pub struct Bar {
    label: String,
    started: Instant,
    /// When the line was last drawn.
    drawn: Mutex<Option<Instant>>,
    shown: bool,
}

impl Bar {
    /// A line labelled `label`, shown when stderr is a terminal.
    pub fn new(label: &str) -> Arc<Bar> {
        Bar::shown_when(label, std::io::stderr().is_terminal())
    }

    /// A line for work that writes its answers as it goes: shown only when they do not go to the same terminal.
    pub fn beside_output(label: &str) -> Arc<Bar> {
        Bar::shown_when(label, std::io::stderr().is_terminal() && !std::io::stdout().is_terminal())
    }

    fn shown_when(label: &str, shown: bool) -> Arc<Bar> {
        Arc::new(Bar { label: label.to_owned(), started: Instant::now(), drawn: Mutex::new(None), shown })
    }

    /// Shows that `done` of `total` (when known) `unit`s are done.
    pub fn update(&self, done: f64, total: Option<f64>, unit: &str) {
        if !self.shown {
            return;
        }
        let Ok(mut drawn) = self.drawn.lock() else { return };
        let finished = total.is_some_and(|t| done >= t);
        if drawn.is_some_and(|at| at.elapsed() < REDRAW) && !finished {
            return;
        }
        *drawn = Some(Instant::now());
        eprint!("\r\x1b[K{}", line(&self.label, done, total, unit, self.started.elapsed()));
    }

    /// The engine's side of this line.
    pub fn progress(self: &Arc<Self>) -> Progress {
        let bar = Arc::clone(self);
        Progress::to(move |done, total, unit| bar.update(done, total, unit))
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if self.shown && self.drawn.lock().is_ok_and(|d| d.is_some()) {
            eprint!("\r\x1b[K");
        }
    }
}

/// The progress line: the label, a bar and counts when the total is known, else the count and its rate; the time
/// so far.
fn line(label: &str, done: f64, total: Option<f64>, unit: &str, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    match total.filter(|t| *t > 0.0) {
        Some(total) => {
            let filled = ((done / total).clamp(0.0, 1.0) * WIDTH as f64).round() as usize;
            format!("{label} [{}{}] {done:.0}/{total:.0} {unit} · {seconds:.1} s", "#".repeat(filled), "-".repeat(WIDTH - filled))
        }
        None => format!("{label} {done:.0} {unit} · {:.1}/s · {seconds:.1} s", done / seconds.max(1e-3)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_a_bar_when_the_total_is_known_and_a_rate_when_not() {
        let half = line("video", 6.0, Some(12.0), "s", Duration::from_secs(3));
        assert_eq!(half, format!("video [{}{}] 6/12 s · 3.0 s", "#".repeat(15), "-".repeat(15)));
        assert_eq!(line("texts", 240.0, None, "texts", Duration::from_secs(2)), "texts 240 texts · 120.0/s · 2.0 s");
        assert!(line("x", 20.0, Some(10.0), "s", Duration::ZERO).contains(&"#".repeat(WIDTH)), "a count past the total fills the bar");
    }
}
