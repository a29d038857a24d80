//! Whisper's log-mel front end, the input of the speech encoder: 400-sample periodic Hann frames every 160 samples
//! of 16 kHz audio, centred with reflect padding (the last frame dropped), power through 80 Slaney mel filters,
//! `log10` floored at 1e-10 and at [`DYNAMIC_RANGE`] below the stretch's maximum, then `(x + 4) / 4` — the same
//! numbers as `log_mel` in `tools/audio/whisper_encoder.py` (golden test below).
//!
//! Two departures from Whisper make a clip read the same in the forms users send it: the filters read nothing above
//! [`BAND_LIMIT_HZ`] (what an 8 kHz telephone recording still holds after resampling), and the floor sits 50 dB
//! below the maximum instead of 80 dB (lossy codecs discard and reshape what lies lower).

use std::sync::{Arc, OnceLock};

use realfft::{RealFftPlanner, RealToComplex};

use super::features::slaney_mel_filters;

/// Mel bands of the encoder input.
pub const BANDS: usize = 80;
/// FFT length (25 ms at 16 kHz).
const N_FFT: usize = 400;
/// Hop between frames (10 ms).
const HOP: usize = 160;
/// Log10 power values more than this below the stretch's maximum are raised to it (50 dB).
pub const DYNAMIC_RANGE: f32 = 5.0;
/// Highest frequency the filters read: the pass band of 8 kHz audio resampled to 16 kHz.
pub const BAND_LIMIT_HZ: f64 = 3750.0;

/// Normalised log-mel frames `[frame][band]` of 16 kHz mono `samples`: `samples.len() / 160` frames (none for
/// fewer than 160 samples; stretches shorter than the 200-sample padding are padded by repeating their ends).
pub fn log_mel(samples: &[f32]) -> Vec<[f32; BANDS]> {
    let count = samples.len() / HOP;
    if count == 0 {
        return Vec::new();
    }
    let padded = reflect_pad(samples, N_FFT / 2);
    let (fft, window, filters) = (fft(), hann(), filters());
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut power = vec![0f32; spectrum.len()];
    let mut frames: Vec<[f32; BANDS]> = Vec::with_capacity(count);
    for f in 0..count {
        for ((x, s), w) in input.iter_mut().zip(&padded[f * HOP..f * HOP + N_FFT]).zip(window.iter()) {
            *x = s * w;
        }
        fft.process(&mut input, &mut spectrum).expect("buffers sized by the planner");
        for (p, c) in power.iter_mut().zip(&spectrum) {
            *p = c.norm_sqr();
        }
        frames.push(std::array::from_fn(|band| {
            let energy: f32 = filters[band].iter().zip(&power).map(|(w, p)| w * p).sum();
            energy.max(1e-10).log10()
        }));
    }
    let floor = frames.iter().flatten().copied().fold(f32::NEG_INFINITY, f32::max) - DYNAMIC_RANGE;
    for value in frames.iter_mut().flatten() {
        *value = (value.max(floor) + 4.0) / 4.0;
    }
    frames
}

/// `samples` with `pad` samples mirrored at each end (numpy's `reflect`: the edge sample is not repeated); a
/// stretch too short to mirror is extended by repeating the mirror.
fn reflect_pad(samples: &[f32], pad: usize) -> Vec<f32> {
    let n = samples.len() as isize;
    let period = (2 * (n - 1)).max(1);
    (-(pad as isize)..n + pad as isize)
        .map(|i| {
            let folded = i.rem_euclid(period);
            samples[(if folded < n { folded } else { period - folded }) as usize]
        })
        .collect()
}

fn fft() -> Arc<dyn RealToComplex<f32>> {
    static FFT: OnceLock<Arc<dyn RealToComplex<f32>>> = OnceLock::new();
    FFT.get_or_init(|| RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT)).clone()
}

/// Periodic Hann window of [`N_FFT`] samples.
fn hann() -> &'static [f32; N_FFT] {
    static WINDOW: OnceLock<[f32; N_FFT]> = OnceLock::new();
    WINDOW.get_or_init(|| std::array::from_fn(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32))
}

fn filters() -> &'static Vec<Vec<f32>> {
    static FILTERS: OnceLock<Vec<Vec<f32>>> = OnceLock::new();
    FILTERS.get_or_init(|| {
        let mut filters = slaney_mel_filters(N_FFT, BANDS);
        let first_above = (BAND_LIMIT_HZ * N_FFT as f64 / f64::from(super::MODEL_RATE)).floor() as usize + 1;
        for row in &mut filters {
            row[first_above..].fill(0.0);
        }
        filters
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::features::tests::reference_signal;

    #[test]
    fn log_mel_matches_the_python_front_end() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/audio/whisper_mel_reference.json");
        let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let ours = log_mel(&reference_signal());
        assert_eq!(ours.len() as u64, reference["frame_count"].as_u64().unwrap());
        for (frame, theirs) in reference["frames"].as_array().unwrap().iter().zip(reference["log_mel"].as_array().unwrap()) {
            let frame = frame.as_u64().unwrap() as usize;
            let worst = ours[frame].iter().zip(theirs.as_array().unwrap()).map(|(a, b)| (a - b.as_f64().unwrap() as f32).abs()).fold(0.0f32, f32::max);
            assert!(worst < 1e-3, "frame {frame}: largest difference {worst}");
        }
    }

    #[test]
    fn bands_above_the_band_limit_stay_at_the_floor() {
        let frames = log_mel(&crate::audio::test_noise(16_000));
        let floor = frames.iter().flatten().copied().fold(f32::INFINITY, f32::min);
        let above: Vec<usize> = (0..BANDS).filter(|&band| filters()[band].iter().all(|w| *w == 0.0)).collect();
        assert!(above.len() >= 15, "white noise reaches 8 kHz, the filters stop at {BAND_LIMIT_HZ} Hz: {}", above.len());
        assert!(frames.iter().all(|frame| above.iter().all(|&band| frame[band] == floor)));
        assert!(frames.iter().all(|frame| frame[10] > floor), "bands below the limit carry the noise");
    }

    #[test]
    fn reflect_padding_mirrors_without_repeating_the_edge() {
        assert_eq!(reflect_pad(&[1.0, 2.0, 3.0, 4.0], 2), vec![3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]);
        assert_eq!(reflect_pad(&[1.0, 2.0], 3), vec![2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0]);
    }

    #[test]
    fn frame_count_follows_the_hop_and_gain_only_shifts_the_values() {
        let signal = reference_signal();
        assert_eq!(log_mel(&signal[..8_000]).len(), 50);
        assert!(log_mel(&signal[..100]).is_empty());
        let loud = log_mel(&signal);
        let quiet = log_mel(&signal.iter().map(|s| s * 0.1).collect::<Vec<_>>());
        let shift = loud[40][10] - quiet[40][10];
        assert!((shift - 0.5).abs() < 1e-3, "a 20 dB gain moves log10 by 2, normalised by 4: {shift}");
    }
}
