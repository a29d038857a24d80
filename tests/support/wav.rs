//! WAV files made by the tests themselves, in any PCM or float format: the spoken sentence of the fixtures, and
//! speech-like signals (a voiced, gliding, syllable-modulated tone with harmonics, which a voice activity detector
//! rightly does not take for speech). Each test and bench uses some of them.

#![allow(dead_code)]

/// Writes `samples` (mono, in [-1, 1]) to every one of `channels` as a WAV file of the given format.
pub fn wav(samples: &[f32], rate: u32, channels: u16, bits: u16, float: bool) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float { hound::SampleFormat::Float } else { hound::SampleFormat::Int },
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for &s in samples {
        for _ in 0..channels {
            match (float, bits) {
                (true, _) => writer.write_sample(s).unwrap(),
                (false, 8) => writer.write_sample((s * 127.0) as i8).unwrap(),
                (false, _) => writer.write_sample((s * ((1i64 << (bits - 1)) - 1) as f32) as i32).unwrap(),
            }
        }
    }
    writer.finalize().unwrap();
    cursor.into_inner()
}

/// The spoken sentence of a 16-bit mono WAV fixture under tests/data/audio (`speech.wav` at 16 kHz,
/// `speech-44k.wav` at 44.1 kHz, `speech-8k.wav` at 8 kHz), as samples in [-1, 1] and its rate.
pub fn spoken_sentence(fixture: &str) -> (Vec<f32>, u32) {
    let path = format!("{}/../../tests/data/audio/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let mut reader = hound::WavReader::open(&path).expect("speech fixture");
    let rate = reader.spec().sample_rate;
    (reader.samples::<i16>().map(|s| f32::from(s.expect("sample")) / 32_768.0).collect(), rate)
}

/// The 16 kHz spoken sentence repeated after 0.3 s pauses until it fills `seconds`.
pub fn spoken_for(seconds: f32) -> Vec<f32> {
    let (sentence, rate) = spoken_sentence("speech.wav");
    let total = (seconds * rate as f32) as usize;
    let mut samples = Vec::with_capacity(total);
    while samples.len() < total {
        samples.extend(&sentence);
        samples.extend(std::iter::repeat_n(0.0, rate as usize * 3 / 10));
    }
    samples.truncate(total);
    samples
}

/// `seconds` of a speech-like signal at `rate`: pitch gliding from `f0_start` to `f0_end` Hz, five harmonics,
/// syllables at `syllables_per_s` (amplitude modulation with short pauses).
pub fn speech_like(seconds: f32, rate: u32, f0_start: f32, f0_end: f32, syllables_per_s: f32) -> Vec<f32> {
    let n = (seconds * rate as f32) as usize;
    let mut phase = 0.0f32;
    (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            let f0 = f0_start + (f0_end - f0_start) * t / seconds;
            phase += 2.0 * std::f32::consts::PI * f0 / rate as f32;
            let voice: f32 = (1..=5).map(|h| (h as f32 * phase).sin() / h as f32).sum();
            let envelope = (std::f32::consts::PI * t * syllables_per_s).sin().abs().powf(1.5);
            0.3 * voice * envelope
        })
        .collect()
}
