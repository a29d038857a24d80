//! `POST /api/v1/emotion/analyze/audio` through the real router with WAV files made here and the compressed
//! fixtures under tests/data/audio: every sample format and container, resampling, the tier ladder, the timeline,
//! the feature summary, and every class of bad input.

mod common;
#[path = "../../../tests/support/wav.rs"]
mod wav;

use base64::Engine;
use common::{api, api_with, assert_valid_result, model_dir, post_json, send};
use emosense_core::{AudioOptions, Config, Limits, Progress};
use serde_json::{json, Value};
use wav::{speech_like, spoken_for, spoken_sentence, wav};

const ROUTE: &str = "/api/v1/emotion/analyze/audio";

fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn analyze(body: Value) -> (u16, Value) {
    send(api(), post_json(ROUTE, body.to_string()))
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../tests/data/{path}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
}

fn speech(rate: u32) -> Vec<f32> {
    speech_like(2.5, rate, 180.0, 260.0, 4.0)
}

#[test]
fn speech_in_every_format_gets_a_valid_primary_result() {
    let formats = [("speech.wav", 1, 16, false), ("speech-44k.wav", 2, 16, false), ("speech.wav", 1, 8, false), ("speech-44k.wav", 1, 24, false), ("speech-8k.wav", 1, 32, false), ("speech-44k.wav", 2, 32, true)];
    for (fixture, channels, bits, float) in formats {
        let (sentence, rate) = spoken_sentence(fixture);
        let (status, body) = analyze(json!({"audio_base64": encode(&wav(&sentence, rate, channels, bits, float))}));
        assert_eq!(status, 200, "{rate} Hz {channels} ch {bits}-bit float={float}: {body}");
        assert_valid_result(&body);
        let metadata = &body["metadata"];
        assert_eq!((metadata["modality"].as_str(), metadata["tier"].as_str()), (Some("audio"), Some("primary")));
        assert_eq!(metadata["source"], json!({"container": "wav", "codec": "pcm", "sample_rate": rate, "channels": channels, "bits_per_sample": bits, "sample_format": if float { "float" } else { "int" }}));
        assert!((metadata["duration_s"].as_f64().unwrap() - sentence.len() as f64 / f64::from(rate)).abs() < 0.01);
        assert_eq!(body["emotions"]["surprise"], 0.0, "the speech models have no surprise class");
    }
}

#[test]
fn each_tier_answers_when_pinned_and_missing_models_fall_back() {
    let audio = encode(&fixture("audio/speech.wav"));
    for tier in ["primary", "secondary", "fallback"] {
        let (status, body) = analyze(json!({"audio_base64": audio, "tier": tier}));
        assert_eq!(status, 200, "{body}");
        assert_valid_result(&body);
        assert_eq!(body["metadata"]["tier"], tier);
    }
    let empty = std::env::temp_dir().join(format!("emosense-no-models-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let bare = api_with(Config { model_dir: empty, ..Config::default() });
    let (status, body) = send(&bare, post_json(ROUTE, json!({"audio_base64": audio}).to_string()));
    assert_eq!((status, body["metadata"]["tier"].as_str()), (200, Some("fallback")), "{body}");
    assert_eq!(body["metadata"]["skipped_tiers"].as_array().unwrap().len(), 2);
    assert!(model_dir().join("audio/model.int8.onnx").is_file());
}

#[test]
fn long_audio_gets_a_timeline_and_features_on_request() {
    let mut samples = vec![0.0f32; 8_000];
    samples.extend(spoken_for(10.0));
    let (status, body) = analyze(json!({"audio_base64": encode(&wav(&samples, 16_000, 1, 16, false)), "segments": true}));
    assert_eq!(status, 200, "{body}");
    let segments = body["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 3, "10 s of sound in 4 s windows every 3 s");
    assert_eq!(body["metadata"]["windows"], 3);
    let start = segments[0]["start_s"].as_f64().unwrap();
    assert!((0.45..=0.55).contains(&start), "the leading 0.5 s of silence is trimmed: {start}");
    let ends: Vec<f64> = segments.iter().map(|s| s["end_s"].as_f64().unwrap()).collect();
    assert!(ends.windows(2).all(|w| w[0] < w[1]) && (10.0..=10.5).contains(&ends[2]), "the last window ends with the sound: {ends:?}");
    for segment in segments {
        assert_valid_result(&json!({"emotions": segment["emotions"], "dominant_emotion": segment["dominant_emotion"], "confidence": segment["confidence"], "metadata": body["metadata"]}));
    }
    // The feature summary describes the sound, speech or not: a voiced glide from 150 to 300 Hz.
    let glide = wav(&speech_like(10.0, 16_000, 150.0, 300.0, 5.0), 16_000, 1, 16, false);
    let (status, body) = analyze(json!({"audio_base64": encode(&glide), "features": true}));
    assert_eq!(status, 200, "{body}");
    let features = body["metadata"]["features"].as_object().unwrap();
    assert_eq!(features.len(), emosense_core::audio::feature_names().len());
    let slope = features["pitch_slope_semitones_per_s"].as_f64().unwrap();
    assert!((0.8..1.6).contains(&slope), "150 -> 300 Hz over 10 s is 1.2 semitones per second, got {slope}");
    assert!(features["voiced_fraction"].as_f64().unwrap() > 0.5);
}

#[test]
fn flac_vorbis_opus_mp3_aac_and_g711_are_decoded() {
    for (name, container, codec, rate, channels) in [
        ("tone.flac", "flac", "flac", 22_050, 2),
        ("tone.ogg", "ogg", "vorbis", 44_100, 1),
        ("tone.mp3", "mp3", "mp3", 44_100, 1),
        ("tone.m4a", "mp4", "aac", 24_000, 1),
        ("speech-8k-mulaw.wav", "wav", "mulaw", 8_000, 1),
        ("speech-8k-alaw.wav", "wav", "alaw", 8_000, 1),
        ("speech.opus", "ogg", "opus", 48_000, 1),
    ] {
        let (status, body) = analyze(json!({"audio_base64": encode(&fixture(&format!("audio/{name}")))}));
        assert_eq!(status, 200, "{name}: {body}");
        assert_valid_result(&body);
        let source = &body["metadata"]["source"];
        assert_eq!((source["container"].as_str(), source["codec"].as_str()), (Some(container), Some(codec)), "{name}");
        assert_eq!((source["sample_rate"].as_u64(), source["channels"].as_u64()), (Some(rate), Some(channels)), "{name}");
        let bits = match codec {
            "flac" => json!(16),
            "mulaw" | "alaw" => json!(8),
            _ => Value::Null,
        };
        assert_eq!(source["bits_per_sample"], bits, "{name}");
        let duration = body["metadata"]["duration_s"].as_f64().unwrap();
        let expected = if name.starts_with("tone") { 1.45..1.6 } else { 2.3..2.4 };
        assert!(expected.contains(&duration), "{name}: {duration} s");
    }
}

/// Largest difference allowed between the probabilities of one spoken sentence sent in different forms (README
/// has the same measurement on real speech).
const SAME_CLIP_TOLERANCE: f64 = 0.15;

#[test]
fn the_same_sentence_answers_the_same_in_every_rate_channel_layout_and_codec() {
    let probabilities = |name: &str| {
        let (status, body) = analyze(json!({"audio_base64": encode(&fixture(&format!("audio/{name}")))}));
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["metadata"]["tier"], "primary", "{name}");
        (body["dominant_emotion"].as_str().unwrap().to_owned(), body["emotions"].clone())
    };
    let (reference_dominant, reference) = probabilities("speech.wav");
    assert_eq!(reference_dominant, "neutral", "a calm statement: {reference}");
    for name in ["speech-44k.wav", "speech-48k-stereo.flac", "speech-8k.wav", "speech-8k-mulaw.wav", "speech-8k-alaw.wav", "speech.mp3", "speech.ogg", "speech.opus", "speech.m4a"] {
        let (dominant, emotions) = probabilities(name);
        assert_eq!(dominant, reference_dominant, "{name}: {emotions} vs speech.wav {reference}");
        for (label, value) in reference.as_object().unwrap() {
            let difference = (emotions[label].as_f64().unwrap() - value.as_f64().unwrap()).abs();
            assert!(difference <= SAME_CLIP_TOLERANCE, "{name}: {label} differs by {difference:.3} from speech.wav ({emotions} vs {reference})");
        }
    }
    // Rate and channel layout alone change nothing but resampling, and G.711 companding little more than 8-bit
    // rounding: those answers agree closely with the same audio as 16-bit PCM.
    for (name, same_as) in [("speech-44k.wav", "speech.wav"), ("speech-48k-stereo.flac", "speech.wav"), ("speech-8k-mulaw.wav", "speech-8k.wav"), ("speech-8k-alaw.wav", "speech-8k.wav")] {
        let ((dominant, emotions), (expected, reference)) = (probabilities(name), probabilities(same_as));
        assert_eq!(dominant, expected, "{name}");
        for (label, value) in reference.as_object().unwrap() {
            assert!((emotions[label].as_f64().unwrap() - value.as_f64().unwrap()).abs() <= 0.05, "{name}: {label}: {emotions} vs {same_as} {reference}");
        }
    }
}

#[test]
fn audio_without_speech_answers_the_neutral_prior_with_a_warning_or_422_on_request() {
    let prior = emosense_core::EmotionScores::neutral_prior();
    let t = |i: usize| i as f32 / 16_000.0;
    let mut state = 7u32;
    let mut noise = || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 8) as f32 / (1 << 24) as f32 - 0.5
    };
    let not_speech = [
        ("tone.flac", fixture("audio/tone.flac")),
        ("chord", wav(&(0..48_000).map(|i| 0.2 * ((std::f32::consts::TAU * 261.6 * t(i)).sin() + (std::f32::consts::TAU * 329.6 * t(i)).sin())).collect::<Vec<_>>(), 16_000, 1, 16, false)),
        ("noise", wav(&(0..48_000).map(|_| 0.3 * noise()).collect::<Vec<_>>(), 16_000, 1, 16, false)),
    ];
    for (name, audio) in not_speech {
        let (status, body) = analyze(json!({"audio_base64": encode(&audio), "segments": true}));
        assert_eq!(status, 200, "{name}: {body}");
        let metadata = &body["metadata"];
        assert_eq!((metadata["speech_s"].as_f64(), metadata["windows"].as_u64()), (Some(0.0), Some(0)), "{name}: {body}");
        assert_eq!((metadata["tier"].as_str(), metadata["model"].as_str()), (Some("fallback"), Some("audio-silero-vad")), "{name}");
        assert!(metadata["warnings"][0].as_str().unwrap().contains("no speech"), "{name}: {body}");
        assert_eq!(body["dominant_emotion"], "neutral");
        assert!((body["confidence"].as_f64().unwrap() - f64::from(prior.get(emosense_core::Emotion::Neutral))).abs() < 1e-3, "{name}: {body}");
        let (status, body) = analyze(json!({"audio_base64": encode(&audio), "require_speech": true}));
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_input")), "{name}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("no speech"), "{name}: {body}");
    }
    let (status, body) = analyze(json!({"audio_base64": encode(&fixture("audio/speech.wav")), "require_speech": true}));
    assert_eq!(status, 200, "{body}");
    let (speech, sound) = (body["metadata"]["speech_s"].as_f64().expect("speech_s"), body["metadata"]["sound_s"].as_f64().expect("sound_s"));
    assert!(speech > 0.6 * sound && speech <= sound + 0.01, "the sentence is speech nearly throughout: {speech} of {sound} s");
    assert!(body["metadata"]["warnings"].is_null(), "no warning for speech: {body}");
}

#[test]
fn bad_audio_gets_clear_json_errors() {
    let good = wav(&speech(16_000), 16_000, 1, 16, false);
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (json!({"audio_base64": "%%% not base64"}), 422, "invalid_input", "base64"),
        (json!({"audio_base64": ""}), 422, "invalid_input", "empty"),
        (json!({"audio_base64": encode(b"just some text, not a sound file at all")}), 415, "unsupported_media_type", "not audio"),
        (json!({"audio_base64": encode(b"ID3\x04\0\0\0\0\0\0fake mp3")}), 422, "invalid_input", "mp3"),
        (json!({"audio_base64": encode(&fixture("video/faces.mp4"))}), 415, "unsupported_media_type", "without an audio track this service decodes (FLAC, Vorbis, Opus, MP3, AAC): it holds H.264 video"),
        (json!({"audio_base64": encode(&fixture("audio/alac.m4a"))}), 415, "unsupported_media_type", "whose audio is ALAC"),
        (json!({"audio_base64": encode(&good[..40])}), 422, "invalid_input", "WAV"),
        (json!({"audio_base64": encode(&good[..good.len() / 2])}), 422, "invalid_input", "truncated"),
        (json!({"audio_base64": encode(&wav(&vec![0.0; 32_000], 16_000, 1, 16, false))}), 422, "invalid_input", "silent"),
        (json!({"audio_base64": encode(&wav(&speech(16_000)[..2_000], 16_000, 1, 16, false))}), 422, "invalid_input", "less than"),
        (json!({"audio_base64": encode(&wav(&vec![0.1; 121 * 8_000], 8_000, 1, 8, false))}), 413, "payload_too_large", "seconds"),
        (json!({"audio": encode(&good)}), 422, "invalid_input", "unknown field"),
        (json!({"audio_base64": encode(&good), "tier": "best"}), 422, "invalid_input", "unknown variant"),
    ];
    for (body, status, code, words) in cases {
        let (got, answer) = analyze(body.clone());
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{answer}");
        assert!(message.contains(words), "{message:?} should mention {words:?}");
    }
}

#[test]
fn audio_over_the_size_limit_is_refused_before_decoding() {
    let small = api_with(Config { model_dir: model_dir(), limits: Limits { audio_bytes: 10_000, ..Limits::default() }, ..Config::default() });
    let audio = encode(&wav(&speech(16_000), 16_000, 1, 16, false));
    let (status, body) = send(&small, post_json(ROUTE, json!({"audio_base64": audio}).to_string()));
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("payload_too_large")));
    assert!(body["error"]["message"].as_str().unwrap().contains("MAX_AUDIO_FILE_SIZE"));
    let data_url = format!("data:audio/wav;base64,{}", encode(&wav(&speech(16_000), 16_000, 1, 16, false)));
    let (status, _) = analyze(json!({"audio_base64": data_url}));
    assert_eq!(status, 200, "a data: URL prefix is accepted");
}

#[test]
fn warm_up_loads_only_the_modalities_deployed() {
    // A speech function's bundle: the audio models alone.
    let bundle = std::env::temp_dir().join(format!("emosense-audio-bundle-{}", std::process::id()));
    std::fs::create_dir_all(bundle.join("audio")).unwrap();
    for file in std::fs::read_dir(model_dir().join("audio")).unwrap() {
        let file = file.unwrap();
        std::fs::copy(file.path(), bundle.join("audio").join(file.file_name())).unwrap();
    }
    let speech_only = api_with(Config { model_dir: bundle, ..Config::default() });
    assert_eq!(speech_only.engine().warm_up(), Ok(()));
    assert_eq!(speech_only.engine().loaded_models(), ["audio-silero-vad", "audio-whisper-tiny-emodb"]);
}

#[test]
fn long_audio_reports_its_progress_in_windows() {
    let reports = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = reports.clone();
    let options = AudioOptions { progress: Progress::to(move |done, total, unit| seen.lock().unwrap().push((done, total, unit))), ..AudioOptions::default() };
    let result = api().engine().audio().analyze("audio", &wav(&spoken_for(10.0), 16_000, 1, 16, false), &options).unwrap();
    let windows = result.metadata.details.audio.as_ref().unwrap().windows as f64;
    let reports = reports.lock().unwrap();
    assert!(windows >= 2.0, "{windows} windows");
    let expected: Vec<(f64, Option<f64>, &str)> = (1..=windows as usize).map(|i| (i as f64, Some(windows), "windows")).collect();
    assert_eq!(*reports, expected);
}
