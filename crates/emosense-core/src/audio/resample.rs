//! Band-limited resampling: a Blackman-windowed sinc low-pass at the lower of the two Nyquist frequencies,
//! evaluated from a finely tabulated kernel.

/// Zero crossings of the sinc on each side of the kernel centre.
const ZERO_CROSSINGS: usize = 10;
/// Kernel table entries per zero crossing (linear interpolation between them).
const TABLE_RESOLUTION: usize = 256;
/// Pass band as a fraction of the lower Nyquist frequency (the rest is the transition band).
const PASS_FRACTION: f64 = 0.94;

/// Most filter phases precomputed; rarer rate pairs are resampled from the kernel table directly.
const MAX_PHASES: usize = 2048;

/// Resamples mono `samples` from `from` Hz to `to` Hz.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || samples.is_empty() {
        return samples.to_vec();
    }
    let divisor = gcd(from, to);
    let (up, down) = ((to / divisor) as usize, (from / divisor) as usize);
    let step = f64::from(from) / f64::from(to);
    // The cut-off relative to the input rate: below the output Nyquist when downsampling.
    let cutoff = PASS_FRACTION * (1.0 / step).min(1.0);
    let half_width = ZERO_CROSSINGS as f64 / cutoff;
    let table = kernel_table();
    let weight = |distance: f64| {
        let position = distance.abs() * cutoff * TABLE_RESOLUTION as f64;
        let index = position as usize;
        if index + 1 < table.len() {
            let frac = position - index as f64;
            (table[index] + (table[index + 1] - table[index]) * frac) * cutoff
        } else {
            0.0
        }
    };
    // Taps relative to the input sample at or before each output instant, for one phase of the rate ratio.
    let taps = |phase_offset: f64| -> (i64, Vec<f32>) {
        let first = (phase_offset - half_width).ceil() as i64;
        let last = (phase_offset + half_width).floor() as i64;
        (first, (first..=last).map(|k| weight(phase_offset - k as f64) as f32).collect())
    };
    let output_len = ((samples.len() as f64) / step).floor() as usize;
    let phases: Option<Vec<(i64, Vec<f32>)>> = (up <= MAX_PHASES).then(|| (0..up).map(|p| taps((p * down % up) as f64 / up as f64)).collect());
    (0..output_len)
        .map(|n| {
            let base = (n * down / up) as i64;
            let owned;
            let (first, weights) = match &phases {
                Some(phases) => {
                    let (first, weights) = &phases[n % up];
                    (*first, weights.as_slice())
                }
                None => {
                    owned = taps(n as f64 * step - base as f64);
                    (owned.0, owned.1.as_slice())
                }
            };
            let mut sum = 0.0f32;
            for (j, w) in weights.iter().enumerate() {
                let k = base + first + j as i64;
                if k >= 0 && (k as usize) < samples.len() {
                    sum += samples[k as usize] * w;
                }
            }
            sum
        })
        .collect()
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The windowed sinc at `x = i / TABLE_RESOLUTION` zero crossings, for `x` in 0..=ZERO_CROSSINGS.
fn kernel_table() -> Vec<f64> {
    let len = ZERO_CROSSINGS * TABLE_RESOLUTION + 1;
    (0..len)
        .map(|i| {
            let x = i as f64 / TABLE_RESOLUTION as f64;
            let sinc = if i == 0 { 1.0 } else { (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x) };
            // Blackman window over [-ZERO_CROSSINGS, ZERO_CROSSINGS], centred here at x = 0.
            let phase = std::f64::consts::PI * (x / ZERO_CROSSINGS as f64 + 1.0);
            let window = 0.42 - 0.5 * phase.cos() + 0.08 * (2.0 * phase).cos();
            sinc * window
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f64, rate: u32, seconds: f64) -> Vec<f32> {
        (0..(f64::from(rate) * seconds) as usize).map(|i| (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate)).sin() as f32).collect()
    }

    fn rms(samples: &[f32]) -> f64 {
        (samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / samples.len() as f64).sqrt()
    }

    #[test]
    fn pass_band_tones_keep_frequency_and_level() {
        // 44 057 Hz shares no useful divisor with 16 kHz: it takes the path without precomputed phases.
        for from in [8_000, 22_050, 44_100, 48_000, 44_057] {
            let out = resample(&tone(440.0, from, 1.0), from, 16_000);
            assert!((out.len() as i64 - 16_000).abs() <= 1, "{from}: {} samples", out.len());
            let middle = &out[2_000..14_000];
            let expected = &tone(440.0, 16_000, 1.0)[2_000..14_000];
            let worst = middle.iter().zip(expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(worst < 0.01, "{from} Hz: largest deviation from the ideal tone {worst}");
        }
    }

    #[test]
    fn tones_above_the_new_nyquist_frequency_are_removed() {
        let out = resample(&tone(11_000.0, 44_100, 1.0), 44_100, 16_000);
        assert!(rms(&out[1_000..15_000]) < 0.01, "aliased energy {}", rms(&out[1_000..15_000]));
    }
}
