//! Live counters of one process, as the local server's `GET /metrics` shows them in the Prometheus text exposition
//! format (version 0.0.4): requests by route, method and status; errors by route and code; request latency
//! histograms by route, modality and tier; the emotions answered by modality; and which models are loaded. The
//! serverless functions keep their per-request log lines (with Embedded Metric Format) instead.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use emosense_core::ModelStatus;
use http::Response;

use crate::log::{Answered, ErrorCode, RequestFacts};

/// Upper bounds of the latency histogram's buckets, in seconds.
const LATENCY_BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Default)]
struct Histogram {
    /// Observations at or under each bound of [`LATENCY_BUCKETS`] (not cumulative; summed when written).
    buckets: [u64; LATENCY_BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = LATENCY_BUCKETS.iter().position(|&bound| seconds <= bound) {
            self.buckets[i] += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Default)]
struct Counters {
    /// By (route, method, status).
    requests: BTreeMap<(&'static str, String, u16), u64>,
    /// By (route, code).
    errors: BTreeMap<(&'static str, &'static str), u64>,
    /// By (route, modality, tier); `none` where the answer has none (errors, health, models).
    latency: BTreeMap<(&'static str, &'static str, &'static str), Histogram>,
    /// By (modality, emotion): the dominant emotion of each result.
    emotions: BTreeMap<(&'static str, &'static str), u64>,
}

/// The counters, shared by every request of the process.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
}

impl Metrics {
    /// Counts one answered request.
    pub(crate) fn record(&self, facts: &RequestFacts, response: &Response<Bytes>, latency: Duration) {
        let answered = response.extensions().get::<Answered>();
        let Ok(mut counters) = self.counters.lock() else { return };
        *counters.requests.entry((facts.route, facts.method.to_string(), response.status().as_u16())).or_default() += 1;
        if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
            *counters.errors.entry((facts.route, code)).or_default() += 1;
        }
        let (modality, tier) = answered.map_or(("none", "none"), |a| (a.modality, a.tier.as_str()));
        counters.latency.entry((facts.route, modality, tier)).or_default().observe(latency.as_secs_f64());
        for emotion in answered.iter().flat_map(|a| &a.dominant_emotions) {
            *counters.emotions.entry((modality, emotion.as_str())).or_default() += 1;
        }
    }

    /// The exposition text, with `models` as the loaded-model gauge.
    pub fn render(&self, models: &[ModelStatus]) -> String {
        let Ok(counters) = self.counters.lock() else { return String::new() };
        let mut out = String::new();
        let name = family(&mut out, "emosense_requests_total", "counter", "Requests answered, by route, method and status.");
        for ((route, method, status), n) in &counters.requests {
            let _ = writeln!(out, "{name}{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}");
        }
        let name = family(&mut out, "emosense_errors_total", "counter", "Error answers, by route and error code.");
        for ((route, code), n) in &counters.errors {
            let _ = writeln!(out, "{name}{{route=\"{route}\",code=\"{code}\"}} {n}");
        }
        let name = family(&mut out, "emosense_request_duration_seconds", "histogram", "Time to answer, by route, modality and tier of the answer.");
        for ((route, modality, tier), h) in &counters.latency {
            let labels = format!("route=\"{route}\",modality=\"{modality}\",tier=\"{tier}\"");
            let mut cumulative = 0;
            for (bound, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
            }
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}\n{name}_sum{{{labels}}} {}\n{name}_count{{{labels}}} {}", h.count, h.sum, h.count);
        }
        let name = family(&mut out, "emosense_emotions_total", "counter", "Dominant emotions answered, by modality (one per result; a batch counts each text).");
        for ((modality, emotion), n) in &counters.emotions {
            let _ = writeln!(out, "{name}{{modality=\"{modality}\",emotion=\"{emotion}\"}} {n}");
        }
        let name = family(&mut out, "emosense_model_loaded", "gauge", "1 when the model is loaded in this process, 0 when not (yet).");
        for model in models {
            let modality = model.modality.map_or("none", |m| m.as_str());
            let _ = writeln!(out, "{name}{{model=\"{}\",modality=\"{modality}\"}} {}", escape(&model.id), u8::from(model.loaded));
        }
        out
    }
}

/// Writes a metric family's HELP and TYPE lines; returns its name.
fn family(out: &mut String, name: &'static str, kind: &str, help: &str) -> &'static str {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    name
}

/// A label value with backslash, double quote and line feed escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
