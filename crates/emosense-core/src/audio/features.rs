//! Speech features at 16 kHz, computed the way librosa computes them where librosa has the feature (32 ms Hann
//! frames every 10 ms without centring, Slaney mel filters, power in dB clipped 80 dB below the peak, orthonormal
//! DCT-II MFCC), summarised per clip as means and standard deviations plus prosody (pitch, voicing, rate).
//! The models are trained on exactly this output (`emosense features audio`).

use std::sync::{Arc, OnceLock};

use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// Sample rate of every feature.
pub const RATE: u32 = 16_000;
/// Frame length in samples (32 ms).
pub const FRAME: usize = 512;
/// Hop between frames in samples (10 ms).
pub const HOP: usize = 160;
/// Mel bands.
pub const MELS: usize = 40;
/// Cepstral coefficients kept.
pub const MFCCS: usize = 13;
const BINS: usize = FRAME / 2 + 1;
/// Lowest and highest pitch searched, in Hz.
const PITCH_RANGE: (f32, f32) = (70.0, 450.0);
/// A frame is voiced when its normalised autocorrelation peak reaches this.
const VOICING_THRESHOLD: f32 = 0.5;

/// Per-frame features of one stretch of audio.
#[derive(Debug, Clone)]
pub struct Frames {
    /// `[frame][mel]` log-mel power in dB.
    pub log_mel: Vec<[f32; MELS]>,
    /// `[frame][coefficient]`.
    pub mfcc: Vec<[f32; MFCCS]>,
    pub centroid_hz: Vec<f32>,
    pub rolloff_hz: Vec<f32>,
    pub flux: Vec<f32>,
    pub zcr: Vec<f32>,
    pub rms: Vec<f32>,
    /// Pitch in Hz of voiced frames, `None` for unvoiced ones.
    pub pitch_hz: Vec<Option<f32>>,
    /// Height of the normalised autocorrelation peak in the pitch range (0 to about 1: how periodic the frame is).
    pub voicing: Vec<f32>,
}

/// Names of the summary features, in the order of [`summarize`]'s vector.
pub fn names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        // The names come from the code that computes the values, run once on a second of tone.
        let tone: Vec<f32> = (0..RATE as usize).map(|i| (2.0 * std::f32::consts::PI * 200.0 * i as f32 / RATE as f32).sin()).collect();
        let mut summary = Summary::naming();
        describe(&frames(&tone), tone.len(), &mut summary);
        summary.names.unwrap_or_default()
    })
}

/// Frame-level features of mono 16 kHz `samples` (at least one frame long).
pub fn frames(samples: &[f32]) -> Frames {
    let fft = fft();
    let window = hann();
    let filters = mel_filters();
    let count = if samples.len() < FRAME { 0 } else { 1 + (samples.len() - FRAME) / HOP };
    let mut power = Vec::with_capacity(count);
    let mut out = Frames { log_mel: Vec::new(), mfcc: Vec::new(), centroid_hz: Vec::new(), rolloff_hz: Vec::new(), flux: Vec::new(), zcr: Vec::new(), rms: Vec::new(), pitch_hz: Vec::new(), voicing: Vec::new() };
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut previous_magnitude = [0f32; BINS];
    let bin_hz = RATE as f32 / FRAME as f32;
    for f in 0..count {
        let frame = &samples[f * HOP..f * HOP + FRAME];
        for ((x, s), w) in input.iter_mut().zip(frame).zip(window.iter()) {
            *x = s * w;
        }
        // Pitch copies the windowed frame into its own zero-padded buffer before the FFT below reuses `input`.
        let (voicing, pitch_hz) = pitch(&input);
        out.voicing.push(voicing);
        out.pitch_hz.push(pitch_hz);
        fft.process(&mut input, &mut spectrum).expect("buffers sized by the planner");
        let mut bins = [0f32; BINS];
        let mut magnitude = [0f32; BINS];
        for (i, c) in spectrum.iter().enumerate() {
            bins[i] = c.norm_sqr();
            magnitude[i] = bins[i].sqrt();
        }
        let total: f32 = magnitude.iter().sum();
        let centroid = if total > 0.0 { magnitude.iter().enumerate().map(|(i, m)| i as f32 * bin_hz * m).sum::<f32>() / total } else { 0.0 };
        let mut cumulative = 0.0;
        let rolloff_bin = magnitude.iter().position(|m| {
            cumulative += m;
            cumulative >= 0.85 * total
        });
        let flux = if f == 0 { 0.0 } else { magnitude.iter().zip(&previous_magnitude).map(|(m, p)| (m - p).max(0.0).powi(2)).sum::<f32>().sqrt() };
        previous_magnitude = magnitude;
        out.centroid_hz.push(centroid);
        out.rolloff_hz.push(rolloff_bin.unwrap_or(0) as f32 * bin_hz);
        out.flux.push(flux);
        out.zcr.push(frame.windows(2).filter(|w| (w[0] >= 0.0) != (w[1] >= 0.0)).count() as f32 / FRAME as f32);
        out.rms.push((frame.iter().map(|s| s * s).sum::<f32>() / FRAME as f32).sqrt());
        power.push(bins);
    }
    let mel_power: Vec<[f32; MELS]> = power
        .iter()
        .map(|bins| {
            let mut mel = [0f32; MELS];
            for (m, filter) in mel.iter_mut().zip(filters.iter()) {
                *m = filter.iter().zip(bins.iter()).map(|(w, p)| w * p).sum();
            }
            mel
        })
        .collect();
    out.log_mel = power_to_db(&mel_power);
    let dct = dct_matrix();
    out.mfcc = out.log_mel.iter().map(|mel| std::array::from_fn(|k| dct[k].iter().zip(mel).map(|(d, m)| d * m).sum())).collect();
    out
}

/// `10 log10(max(power, 1e-10))`, floored 80 dB below the loudest value of the clip (librosa's `power_to_db`).
fn power_to_db(power: &[[f32; MELS]]) -> Vec<[f32; MELS]> {
    let db: Vec<[f32; MELS]> = power.iter().map(|row| row.map(|p| 10.0 * p.max(1e-10).log10())).collect();
    let peak = db.iter().flatten().copied().fold(f32::NEG_INFINITY, f32::max);
    db.into_iter().map(|row| row.map(|v| v.max(peak - 80.0))).collect()
}

/// Voicing strength and pitch of one windowed frame: the peak of its autocorrelation (from a zero-padded FFT, so
/// not circular) in the pitch range, normalised by the window's own autocorrelation, with parabolic interpolation;
/// no pitch when the peak stays under [`VOICING_THRESHOLD`].
fn pitch(windowed: &[f32]) -> (f32, Option<f32>) {
    let (forward, inverse) = padded_fft();
    let mut input = forward.make_input_vec();
    input[..FRAME].copy_from_slice(windowed);
    let mut spectrum = forward.make_output_vec();
    let mut acf = inverse.make_output_vec();
    if forward.process(&mut input, &mut spectrum).is_err() {
        return (0.0, None);
    }
    for c in spectrum.iter_mut() {
        *c = realfft::num_complex::Complex::new(c.norm_sqr(), 0.0);
    }
    if inverse.process(&mut spectrum, &mut acf).is_err() || acf[0] <= 1e-9 {
        return (0.0, None);
    }
    let window_acf = window_autocorrelation();
    let normalised = |lag: usize| acf[lag] / acf[0] / window_acf[lag];
    let min_lag = (RATE as f32 / PITCH_RANGE.1).floor() as usize;
    let max_lag = ((RATE as f32 / PITCH_RANGE.0).ceil() as usize).min(FRAME / 2);
    let strongest = (min_lag..=max_lag).map(normalised).fold(f32::NEG_INFINITY, f32::max);
    if strongest < VOICING_THRESHOLD {
        return (strongest.max(0.0), None);
    }
    // Multiples of the period peak about as high as the period itself: take the shortest lag whose peak comes
    // within 10 % of the strongest, which avoids octave errors downwards.
    let Some(best) = (min_lag + 1..max_lag).find(|&lag| {
        let value = normalised(lag);
        value >= 0.9 * strongest && value >= normalised(lag - 1) && value >= normalised(lag + 1)
    }) else {
        return (strongest, None);
    };
    let (left, centre, right) = (normalised(best - 1), normalised(best), normalised(best + 1));
    let denominator = left - 2.0 * centre + right;
    let offset = if denominator.abs() > 1e-9 { 0.5 * (left - right) / denominator } else { 0.0 };
    (strongest, Some(RATE as f32 / (best as f32 + offset.clamp(-0.5, 0.5))))
}

/// Summary vector of a stretch of audio (see [`names`]); `samples` are 16 kHz mono.
pub fn summarize(samples: &[f32]) -> Vec<f32> {
    let mut summary = Summary::values();
    describe(&frames(samples), samples.len(), &mut summary);
    summary.values
}

/// Statistics of one frame-level series over a stretch of audio.
#[derive(Debug, Clone, Copy)]
enum Stats {
    /// Mean and standard deviation.
    MeanStd,
    /// Mean, standard deviation, skewness, excess kurtosis, 10th/50th/90th percentiles, their 10-90 range and
    /// the least-squares slope per second.
    Full,
}

/// A feature vector under construction, with its names when they are wanted.
struct Summary {
    values: Vec<f32>,
    names: Option<Vec<String>>,
}

impl Summary {
    fn values() -> Self {
        Summary { values: Vec::with_capacity(400), names: None }
    }

    fn naming() -> Self {
        Summary { values: Vec::new(), names: Some(Vec::new()) }
    }

    fn push(&mut self, name: &str, value: f32) {
        self.values.push(if value.is_finite() { value } else { 0.0 });
        if let Some(names) = &mut self.names {
            names.push(name.to_owned());
        }
    }

    /// Pushes `stats` of `series` (a series without values counts as one zero).
    fn series(&mut self, name: &str, series: &[f32], stats: Stats) {
        let series = if series.is_empty() { &[0.0][..] } else { series };
        let m = mean(series);
        let central = |power: i32| series.iter().map(|v| (v - m).powi(power)).sum::<f32>() / series.len() as f32;
        let variance = central(2);
        self.push(&format!("{name}_mean"), m);
        self.push(&format!("{name}_std"), variance.sqrt());
        if let Stats::Full = stats {
            let flat = variance <= 1e-12;
            self.push(&format!("{name}_skew"), if flat { 0.0 } else { central(3) / variance.powf(1.5) });
            self.push(&format!("{name}_kurtosis"), if flat { 0.0 } else { central(4) / (variance * variance) - 3.0 });
            let mut sorted = series.to_vec();
            sorted.sort_by(f32::total_cmp);
            let (p10, p50, p90) = (percentile(&sorted, 0.1), percentile(&sorted, 0.5), percentile(&sorted, 0.9));
            self.push(&format!("{name}_p10"), p10);
            self.push(&format!("{name}_p50"), p50);
            self.push(&format!("{name}_p90"), p90);
            self.push(&format!("{name}_p10_p90_range"), p90 - p10);
            let points: Vec<(f32, f32)> = series.iter().enumerate().map(|(i, v)| (i as f32 * HOP as f32 / RATE as f32, *v)).collect();
            self.push(&format!("{name}_slope_per_s"), slope(&points));
        }
    }
}

/// Writes the summary of `frames` (of `sample_count` samples) into `summary`: cepstral, mel, spectral and
/// voice-quality series with their statistics, then prosody (pitch, voicing, rate, loudness).
fn describe(frames: &Frames, sample_count: usize, summary: &mut Summary) {
    let count = frames.mfcc.len();
    let coefficient = |rows: &[[f32; MFCCS]], k: usize| rows.iter().map(|r| r[k]).collect::<Vec<f32>>();
    let mfcc_deltas = deltas(&frames.mfcc);
    let voiced: Vec<bool> = frames.pitch_hz.iter().map(Option::is_some).collect();
    for k in 0..MFCCS {
        summary.series(&format!("mfcc{}", k + 1), &coefficient(&frames.mfcc, k), Stats::Full);
    }
    for k in 0..MFCCS {
        summary.series(&format!("mfcc{}_delta", k + 1), &coefficient(&mfcc_deltas, k), Stats::MeanStd);
    }
    for k in 0..MELS {
        summary.series(&format!("log_mel{}", k + 1), &frames.log_mel.iter().map(|m| m[k]).collect::<Vec<_>>(), Stats::MeanStd);
    }
    let rms_db: Vec<f32> = frames.rms.iter().map(|r| 20.0 * r.max(1e-5).log10()).collect();
    for (name, series) in [
        ("centroid_hz", &frames.centroid_hz),
        ("rolloff_hz", &frames.rolloff_hz),
        ("flux", &frames.flux),
        ("zcr", &frames.zcr),
        ("rms_db", &rms_db),
        ("mel_slope_db_per_band", &frames.log_mel.iter().map(mel_slope).collect()),
        ("alpha_ratio_db", &frames.log_mel.iter().map(alpha_ratio).collect()),
        ("hammarberg_db", &frames.log_mel.iter().map(hammarberg).collect()),
    ] {
        summary.series(name, series, Stats::Full);
    }

    let voiced_pitch: Vec<(f32, f32)> = frames
        .pitch_hz
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.map(|hz| (i as f32 * HOP as f32 / RATE as f32, 12.0 * (hz / 100.0).log2())))
        .collect();
    let semitones: Vec<f32> = voiced_pitch.iter().map(|v| v.1).collect();
    let mut sorted = semitones.clone();
    sorted.sort_by(f32::total_cmp);
    let duration = sample_count as f32 / RATE as f32;
    let mut sorted_db = rms_db.clone();
    sorted_db.sort_by(f32::total_cmp);
    summary.push("pitch_mean_semitones", mean(&semitones));
    summary.push("pitch_std_semitones", std(&semitones));
    summary.push("pitch_range_semitones", percentile(&sorted, 0.9) - percentile(&sorted, 0.1));
    summary.push("pitch_slope_semitones_per_s", slope(&voiced_pitch));
    summary.push("voiced_fraction", if count == 0 { 0.0 } else { voiced_pitch.len() as f32 / count as f32 });
    summary.push("rate_peaks_per_s", energy_peaks(&rms_db) as f32 / duration.max(1e-3));
    summary.push("rms_db_range", percentile(&sorted_db, 0.95) - percentile(&sorted_db, 0.05));
    summary.push("duration_s", duration);

    let pitch_steps: Vec<f32> = semitones.windows(2).map(|w| w[1] - w[0]).collect();
    let rms_db_rows: Vec<[f32; 1]> = rms_db.iter().map(|v| [*v]).collect();
    let rms_db_deltas: Vec<f32> = deltas(&rms_db_rows).iter().map(|d| d[0]).collect();
    summary.series("pitch_semitones", &semitones, Stats::Full);
    summary.series("pitch_step_semitones", &pitch_steps, Stats::MeanStd);
    summary.series("voicing_strength", &frames.voicing, Stats::Full);
    summary.series("rms_db_delta", &rms_db_deltas, Stats::Full);
    let runs = voiced_runs(&voiced);
    let run_seconds: Vec<f32> = runs.iter().map(|&frames| frames as f32 * HOP as f32 / RATE as f32).collect();
    summary.push("voiced_runs_per_s", runs.len() as f32 / (count as f32 * HOP as f32 / RATE as f32).max(1e-3));
    summary.push("voiced_run_mean_s", mean(&run_seconds));
    summary.push("voiced_run_std_s", std(&run_seconds));

    // Voiced frames carry the vowels' spectra, unvoiced ones the consonants' and pauses'; with none of a kind,
    // all frames stand in.
    let of_kind = |want: bool| -> Vec<[f32; MFCCS]> {
        let picked: Vec<[f32; MFCCS]> = frames.mfcc.iter().zip(&voiced).filter(|(_, v)| **v == want).map(|(m, _)| *m).collect();
        if picked.is_empty() { frames.mfcc.clone() } else { picked }
    };
    let (voiced_mfcc, unvoiced_mfcc) = (of_kind(true), of_kind(false));
    for k in 0..MFCCS {
        summary.series(&format!("voiced_mfcc{}", k + 1), &coefficient(&voiced_mfcc, k), Stats::MeanStd);
    }
    for k in 0..MFCCS {
        summary.push(&format!("unvoiced_mfcc{}_mean", k + 1), mean(&coefficient(&unvoiced_mfcc, k)));
    }
}

/// Lower band index of the "above about 1 kHz" part of the mel spectrum (band centres rise ~1.1 mel per band).
const MEL_BAND_1KHZ: usize = 15;
/// Lower band index of the "above about 2 kHz" part.
const MEL_BAND_2KHZ: usize = 22;

/// Least-squares slope of a frame's log-mel spectrum, dB per band (spectral tilt).
fn mel_slope(log_mel: &[f32; MELS]) -> f32 {
    let points: Vec<(f32, f32)> = log_mel.iter().enumerate().map(|(i, v)| (i as f32, *v)).collect();
    slope(&points)
}

/// Energy above about 1 kHz over energy below it, in dB.
fn alpha_ratio(log_mel: &[f32; MELS]) -> f32 {
    let energy = |bands: &[f32]| 10.0 * bands.iter().map(|db| 10f32.powf(db / 10.0)).sum::<f32>().max(1e-10).log10();
    energy(&log_mel[MEL_BAND_1KHZ..]) - energy(&log_mel[..MEL_BAND_1KHZ])
}

/// Strongest band below about 2 kHz minus strongest band above it, in dB (Hammarberg index).
fn hammarberg(log_mel: &[f32; MELS]) -> f32 {
    let peak = |bands: &[f32]| bands.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    peak(&log_mel[..MEL_BAND_2KHZ]) - peak(&log_mel[MEL_BAND_2KHZ..])
}

/// Lengths in frames of the runs of consecutive voiced frames.
fn voiced_runs(voiced: &[bool]) -> Vec<usize> {
    voiced.split(|v| !v).map(<[bool]>::len).filter(|&len| len > 0).collect()
}

/// `q`-quantile of sorted values with linear interpolation (0 when empty).
fn percentile(sorted: &[f32], q: f32) -> f32 {
    if sorted.is_empty() {
        return 0.0;
    }
    let position = (sorted.len() - 1) as f32 * q;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f32)
}

/// Regression deltas over ±2 frames (HTK), edges repeated.
fn deltas<const N: usize>(rows: &[[f32; N]]) -> Vec<[f32; N]> {
    let n = rows.len();
    let at = |i: isize| rows[i.clamp(0, n as isize - 1) as usize];
    (0..n as isize)
        .map(|t| std::array::from_fn(|k| (1..=2).map(|d| d as f32 * (at(t + d)[k] - at(t - d)[k])).sum::<f32>() / 10.0))
        .collect()
}

/// Syllable-like energy peaks: local maxima of the 50 ms-smoothed frame energy that rise 3 dB above the
/// neighbouring valleys and lie within 25 dB of the loudest frame, at least 100 ms apart.
fn energy_peaks(rms_db: &[f32]) -> usize {
    if rms_db.len() < 3 {
        return 0;
    }
    let smoothed: Vec<f32> = (0..rms_db.len()).map(|i| mean(&rms_db[i.saturating_sub(2)..(i + 3).min(rms_db.len())])).collect();
    let loudest = smoothed.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut peaks = 0;
    let mut last_peak: Option<usize> = None;
    let mut valley = smoothed[0];
    for i in 1..smoothed.len() - 1 {
        valley = valley.min(smoothed[i]);
        let is_peak = smoothed[i] >= smoothed[i - 1] && smoothed[i] > smoothed[i + 1];
        if is_peak && smoothed[i] > loudest - 25.0 && smoothed[i] - valley >= 3.0 && last_peak.is_none_or(|p| i - p >= 10) {
            peaks += 1;
            last_peak = Some(i);
            valley = smoothed[i];
        }
    }
    peaks
}

/// Least-squares slope of `(x, y)` points (0 with fewer than two).
fn slope(points: &[(f32, f32)]) -> f32 {
    if points.len() < 2 {
        return 0.0;
    }
    let (mx, my) = (mean(&points.iter().map(|p| p.0).collect::<Vec<_>>()), mean(&points.iter().map(|p| p.1).collect::<Vec<_>>()));
    let (num, den) = points.iter().fold((0.0, 0.0), |(n, d), (x, y)| (n + (x - mx) * (y - my), d + (x - mx) * (x - mx)));
    if den > 0.0 { num / den } else { 0.0 }
}

fn mean(values: &[f32]) -> f32 {
    if values.is_empty() { 0.0 } else { values.iter().sum::<f32>() / values.len() as f32 }
}

fn std(values: &[f32]) -> f32 {
    let m = mean(values);
    mean(&values.iter().map(|v| (v - m) * (v - m)).collect::<Vec<_>>()).sqrt()
}

fn fft() -> Arc<dyn RealToComplex<f32>> {
    static FFT: OnceLock<Arc<dyn RealToComplex<f32>>> = OnceLock::new();
    FFT.get_or_init(|| RealFftPlanner::<f32>::new().plan_fft_forward(FRAME)).clone()
}

/// Forward and inverse FFTs of twice the frame length, for linear (not circular) autocorrelation.
fn padded_fft() -> &'static (Arc<dyn RealToComplex<f32>>, Arc<dyn ComplexToReal<f32>>) {
    static FFT: OnceLock<(Arc<dyn RealToComplex<f32>>, Arc<dyn ComplexToReal<f32>>)> = OnceLock::new();
    FFT.get_or_init(|| {
        let mut planner = RealFftPlanner::<f32>::new();
        (planner.plan_fft_forward(2 * FRAME), planner.plan_fft_inverse(2 * FRAME))
    })
}

/// Periodic Hann window (librosa's default).
fn hann() -> &'static [f32; FRAME] {
    static WINDOW: OnceLock<[f32; FRAME]> = OnceLock::new();
    WINDOW.get_or_init(|| std::array::from_fn(|n| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * n as f32 / FRAME as f32).cos()))
}

/// Normalised autocorrelation of the window itself, which divides a frame's autocorrelation to undo its taper.
fn window_autocorrelation() -> &'static [f32; FRAME] {
    static ACF: OnceLock<[f32; FRAME]> = OnceLock::new();
    ACF.get_or_init(|| {
        let w = hann();
        let zero: f32 = w.iter().map(|v| v * v).sum();
        std::array::from_fn(|lag| (w[..FRAME - lag].iter().zip(&w[lag..]).map(|(a, b)| a * b).sum::<f32>() / zero).max(1e-3))
    })
}

/// This module's mel filter bank: [`MELS`] bands over the [`FRAME`]-sample spectrum.
fn mel_filters() -> &'static Vec<[f32; BINS]> {
    static FILTERS: OnceLock<Vec<[f32; BINS]>> = OnceLock::new();
    FILTERS.get_or_init(|| slaney_mel_filters(FRAME, MELS).into_iter().map(|row| std::array::from_fn(|bin| row[bin])).collect())
}

/// Slaney-style mel filter bank with Slaney area normalisation (librosa `filters.mel` defaults), 0-8000 Hz at
/// [`RATE`]: `bands` rows of `n_fft / 2 + 1` weights.
pub(super) fn slaney_mel_filters(n_fft: usize, bands: usize) -> Vec<Vec<f32>> {
    let (min_mel, max_mel) = (hz_to_mel(0.0), hz_to_mel(RATE as f64 / 2.0));
    let edges: Vec<f64> = (0..bands + 2).map(|i| mel_to_hz(min_mel + (max_mel - min_mel) * i as f64 / (bands + 1) as f64)).collect();
    (0..bands)
        .map(|m| {
            let (lower, centre, upper) = (edges[m], edges[m + 1], edges[m + 2]);
            let norm = 2.0 / (upper - lower);
            (0..n_fft / 2 + 1)
                .map(|bin| {
                    let hz = bin as f64 * RATE as f64 / n_fft as f64;
                    let rising = (hz - lower) / (centre - lower);
                    let falling = (upper - hz) / (upper - centre);
                    (rising.min(falling).max(0.0) * norm) as f32
                })
                .collect()
        })
        .collect()
}

/// The Slaney mel scale: linear below 1 kHz, logarithmic above.
fn hz_to_mel(hz: f64) -> f64 {
    let (f_sp, min_log_hz, log_step) = (200.0 / 3.0, 1000.0, (6.4f64).ln() / 27.0);
    if hz < min_log_hz { hz / f_sp } else { min_log_hz / f_sp + (hz / min_log_hz).ln() / log_step }
}

fn mel_to_hz(mel: f64) -> f64 {
    let (f_sp, min_log_hz, log_step) = (200.0 / 3.0, 1000.0, (6.4f64).ln() / 27.0);
    let min_log_mel = min_log_hz / f_sp;
    if mel < min_log_mel { mel * f_sp } else { min_log_hz * ((mel - min_log_mel) * log_step).exp() }
}

/// Orthonormal DCT-II rows for the first [`MFCCS`] coefficients over [`MELS`] bands.
fn dct_matrix() -> &'static [[f32; MELS]; MFCCS] {
    static DCT: OnceLock<[[f32; MELS]; MFCCS]> = OnceLock::new();
    DCT.get_or_init(|| {
        std::array::from_fn(|k| {
            let scale = if k == 0 { (1.0 / MELS as f64).sqrt() } else { (2.0 / MELS as f64).sqrt() };
            std::array::from_fn(|n| (scale * (std::f64::consts::PI * k as f64 * (2 * n + 1) as f64 / (2 * MELS) as f64).cos()) as f32)
        })
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn tone(hz: f32, seconds: f32, amplitude: f32) -> Vec<f32> {
        (0..(RATE as f32 * seconds) as usize).map(|i| amplitude * (2.0 * std::f32::consts::PI * hz * i as f32 / RATE as f32).sin()).collect()
    }

    /// The signal of `tools/audio/librosa_reference.py` and `tools/audio/whisper_encoder.py --golden`: three tones,
    /// the top one fading in, one second at 16 kHz.
    pub(in crate::audio) fn reference_signal() -> Vec<f32> {
        (0..RATE as usize)
            .map(|i| {
                let t = i as f64 / RATE as f64;
                let tau = 2.0 * std::f64::consts::PI;
                (0.3 * (tau * 220.0 * t).sin() + 0.2 * (tau * 1330.0 * t).sin() + 0.1 * t * (tau * 3100.0 * t).sin()) as f32
            })
            .collect()
    }

    #[test]
    fn log_mel_and_mfcc_match_librosa() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/audio/librosa_reference.json");
        let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let f = frames(&reference_signal());
        assert_eq!(f.log_mel.len() as u64, reference["frame_count"].as_u64().unwrap());
        let values = |v: &serde_json::Value| v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect::<Vec<_>>();
        for (i, frame) in reference["frames"].as_array().unwrap().iter().enumerate() {
            let frame = frame.as_u64().unwrap() as usize;
            for (ours, theirs, what, tolerance) in [
                (f.log_mel[frame].to_vec(), values(&reference["log_mel"][i]), "log-mel dB", 0.05),
                (f.mfcc[frame].to_vec(), values(&reference["mfcc"][i]), "MFCC", 0.1),
            ] {
                let worst = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                assert!(worst < tolerance, "{what} of frame {frame}: largest difference from librosa {worst}\nours   {ours:?}\nlibrosa {theirs:?}");
            }
        }
    }

    #[test]
    fn frame_count_and_vector_length_are_fixed() {
        let f = frames(&tone(200.0, 1.0, 0.5));
        assert_eq!(f.mfcc.len(), 1 + (16_000 - FRAME) / HOP);
        assert_eq!(summarize(&tone(200.0, 1.0, 0.5)).len(), names().len());
        let unique: std::collections::HashSet<&String> = names().iter().collect();
        assert_eq!(unique.len(), names().len(), "feature names repeat");
    }

    #[test]
    fn series_statistics_follow_their_definitions() {
        let ramp: Vec<f32> = (0..=100).map(|i| i as f32).collect();
        let mut summary = Summary::naming();
        summary.series("ramp", &ramp, Stats::Full);
        summary.series("empty", &[], Stats::MeanStd);
        let names = summary.names.clone().unwrap();
        let at = |name: &str| summary.values[names.iter().position(|n| n == name).unwrap()];
        for (name, expected, tolerance) in [
            ("ramp_mean", 50.0, 1e-4),
            ("ramp_std", 850f32.sqrt(), 1e-3),
            ("ramp_skew", 0.0, 1e-4),
            ("ramp_kurtosis", -1.2, 1e-3),
            ("ramp_p10", 10.0, 1e-4),
            ("ramp_p50", 50.0, 1e-4),
            ("ramp_p90", 90.0, 1e-4),
            ("ramp_p10_p90_range", 80.0, 1e-4),
            ("ramp_slope_per_s", 100.0, 1e-2),
            ("empty_mean", 0.0, 0.0),
            ("empty_std", 0.0, 0.0),
        ] {
            assert!((at(name) - expected).abs() <= tolerance, "{name}: {} (expected {expected})", at(name));
        }
    }

    #[test]
    fn voiced_runs_and_spectral_balance() {
        assert_eq!(voiced_runs(&[true, true, false, true, false, false, true, true, true]), vec![2, 1, 3]);
        assert!(voiced_runs(&[false, false]).is_empty());
        let flat = [0.0f32; MELS];
        assert!(mel_slope(&flat).abs() < 1e-6);
        assert!(hammarberg(&flat).abs() < 1e-6);
        let expected_alpha = 10.0 * ((MELS - MEL_BAND_1KHZ) as f32 / MEL_BAND_1KHZ as f32).log10();
        assert!((alpha_ratio(&flat) - expected_alpha).abs() < 1e-4);
        let falling: [f32; MELS] = std::array::from_fn(|i| -(i as f32));
        assert!((mel_slope(&falling) + 1.0).abs() < 1e-4);
        assert!((hammarberg(&falling) - MEL_BAND_2KHZ as f32).abs() < 1e-4);
    }

    #[test]
    fn a_steady_tone_has_its_pitch_centroid_and_no_slope() {
        let samples = tone(220.0, 1.0, 0.5);
        let f = frames(&samples);
        let voiced: Vec<f32> = f.pitch_hz.iter().flatten().copied().collect();
        assert!(voiced.len() as f32 > 0.95 * f.pitch_hz.len() as f32);
        assert!(voiced.iter().all(|p| (p - 220.0).abs() < 3.0), "{voiced:?}");
        let centroid = mean(&f.centroid_hz);
        assert!((centroid - 220.0).abs() < 60.0, "centroid {centroid}");
        let vector = summarize(&samples);
        let at = |name: &str| vector[names().iter().position(|n| n == name).unwrap()];
        assert!(at("pitch_slope_semitones_per_s").abs() < 0.1);
        assert!((at("pitch_mean_semitones") - 12.0 * (2.2f32).log2()).abs() < 0.2);
        assert!(at("voiced_fraction") > 0.95);
    }

    #[test]
    fn noise_is_unvoiced_and_a_glide_has_a_rising_slope() {
        let f = frames(&crate::audio::test_noise(16_000));
        assert!(f.pitch_hz.iter().filter(|p| p.is_some()).count() < f.pitch_hz.len() / 10);
        let glide: Vec<f32> = {
            let mut phase = 0.0f32;
            (0..32_000)
                .map(|i| {
                    phase += 2.0 * std::f32::consts::PI * (150.0 + 150.0 * i as f32 / 32_000.0) / RATE as f32;
                    0.5 * phase.sin()
                })
                .collect()
        };
        let vector = summarize(&glide);
        let slope = vector[names().iter().position(|n| n == "pitch_slope_semitones_per_s").unwrap()];
        assert!((slope - 6.0).abs() < 1.5, "150 -> 300 Hz over 2 s is about 6 semitones per second, got {slope}");
    }
}
