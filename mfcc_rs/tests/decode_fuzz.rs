//! Random, mutated and truncated bytes never make the decoder panic: every
//! input is decoded or rejected with an error naming it.
//!
//! Under `cargo test` the inputs are the same on every run (a fixed seed),
//! and every failure proptest ever found is replayed first from
//! `decode_fuzz.proptest-regressions` beside this file, which is committed.
//! The long run with random seeds is `benches/fuzz_decoder.py`.

#[allow(dead_code)] // this file uses only part of the shared builders
mod common;

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;

use common::{aiff, flac, wav, Encoding};
use mfcc_rs::audio::load_bytes;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, RngSeed};

fn check(bytes: Vec<u8>, ext: Option<&str>, target_sr: Option<u32>) {
    let kept = std::env::var_os("MFCC_FUZZ_FINDINGS").map(|dir| (dir, bytes.clone()));
    match load_bytes(bytes, ext, Path::new("fuzz.bin"), target_sr) {
        Ok(audio) => {
            assert!(!audio.samples.is_empty());
            assert!(audio.samples.iter().all(|v| v.is_finite()));
        }
        Err(e) => {
            let text = e.to_string();
            assert!(text.starts_with("fuzz.bin: "), "{text}");
            if let Some((dir, bytes)) = kept.filter(|_| text.contains("the decoder gave up")) {
                keep_finding(Path::new(&dir), &bytes, ext);
            }
        }
    }
}

/// Keeps an input on which symphonia panicked (a handled error, but a bug
/// to report upstream) in `dir`, named by its hash.
fn keep_finding(dir: &Path, bytes: &[u8], ext: Option<&str>) {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    let name = format!("{:016x}.{}", hasher.finish(), ext.unwrap_or("bin"));
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// Openings of the formats symphonia probes for.
const MAGIC: [&[u8]; 5] = [
    b"RIFF\x24\x08\x00\x00WAVEfmt ",
    b"fLaC\x00\x00\x00\x22",
    b"OggS\x00\x02",
    b"ID3\x04\x00\x00",
    b"FORM\x00\x00\x08\x00AIFF",
];

/// Valid files of every sample encoding, to mutate.
fn seeds() -> Vec<Vec<u8>> {
    let tone = |channels: usize, scale: f64| -> Vec<Vec<f64>> {
        (0..300)
            .map(|i| vec![((i as f64 * 0.3).sin() * scale).round(); channels])
            .collect()
    };
    vec![
        wav(Encoding::I16, 16000, &tone(1, 8000.0), false),
        wav(Encoding::U8, 8000, &tone(2, 100.0), true),
        wav(Encoding::I24, 44100, &tone(2, 4e6), false),
        wav(Encoding::I32, 11025, &tone(1, 1e9), true),
        wav(Encoding::F32, 22050, &tone(1, 1.0 / 3.0), true),
        wav(Encoding::F64, 48000, &tone(3, 0.001), false),
    ]
}

/// Cases per property and the seed they are drawn from: 300 from a fixed
/// seed under `cargo test`; the long run sets `MFCC_FUZZ_CASES` to draw
/// that many from a random seed.
fn config() -> ProptestConfig {
    let long = std::env::var("MFCC_FUZZ_CASES")
        .ok()
        .map(|n| n.parse().expect("MFCC_FUZZ_CASES must be a count"));
    ProptestConfig {
        cases: long.unwrap_or(300),
        rng_seed: if long.is_some() {
            RngSeed::Random
        } else {
            RngSeed::Fixed(24)
        },
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// Valid files of the other formats, to mutate, with their extensions.
/// `data/seed.*` hold what needs an encoder this crate lacks: 0.1 s of a
/// 440 Hz tone in noise written by soundfile 0.14 (libsndfile 1.2.2) as
/// FLAC (PCM_16, stereo, 16 kHz), MP3 (layer III, stereo, 16 kHz) and Ogg
/// Vorbis (mono, 8 kHz).
fn other_seeds() -> Vec<(Vec<u8>, &'static str)> {
    let codes = |channels: usize, bits: u32| -> Vec<Vec<i32>> {
        let scale = f64::from((1u32 << (bits - 1)) - 1) * 0.7;
        (0..300)
            .map(|i| vec![((i as f64 * 0.3).sin() * scale).round() as i32; channels])
            .collect()
    };
    vec![
        (flac(16, 16000, &codes(2, 16)), "flac"),
        (include_bytes!("data/seed.flac").to_vec(), "flac"),
        (aiff(16, 22050, &codes(1, 16)), "aiff"),
        (aiff(24, 8000, &codes(2, 24)), "aiff"),
        (include_bytes!("data/seed.mp3").to_vec(), "mp3"),
        (include_bytes!("data/seed.ogg").to_vec(), "ogg"),
    ]
}

#[test]
fn every_seed_decodes() {
    for bytes in seeds() {
        load_bytes(bytes, Some("wav"), Path::new("seed.wav"), Some(16000)).unwrap();
    }
    for (bytes, ext) in other_seeds() {
        let audio = load_bytes(bytes, None, Path::new(ext), None).unwrap();
        assert!(audio.samples.len() >= 300, "{ext}: {}", audio.samples.len());
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048),
                    ext in prop::sample::select(vec!["wav", "flac", "mp3", "ogg", "aiff", "txt"])) {
        check(bytes, Some(ext), None);
    }

    #[test]
    fn random_bytes_behind_a_header(tail in proptest::collection::vec(any::<u8>(), 0..512),
                                    magic in prop::sample::select(MAGIC.to_vec())) {
        let mut bytes = magic.to_vec();
        bytes.extend(tail);
        check(bytes, None, Some(16000));
    }

    #[test]
    fn mutated_and_truncated_wav(seed in 0..6usize,
                                 edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..12),
                                 cut in any::<prop::sample::Index>()) {
        let mut bytes = seeds().swap_remove(seed);
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        check(bytes, Some("wav"), Some(16000));
    }

    #[test]
    fn mutated_header_fields(seed in 0..6usize, at in 0..64usize, value in any::<u32>()) {
        // Whole little-endian words over the header: sizes, rates, channel
        // counts and block alignments taking any value.
        let mut bytes = seeds().swap_remove(seed);
        bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
        check(bytes, Some("wav"), Some(16000));
    }

    #[test]
    fn mutated_and_truncated_other_formats(seed in 0..6usize,
                                           edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..12),
                                           cut in any::<prop::sample::Index>(),
                                           hinted in any::<bool>()) {
        let (mut bytes, ext) = other_seeds().swap_remove(seed);
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        check(bytes, hinted.then_some(ext), Some(16000));
    }

    #[test]
    fn mutated_header_fields_of_other_formats(seed in 0..6usize, at in 0..64usize, value in any::<u32>()) {
        let (mut bytes, ext) = other_seeds().swap_remove(seed);
        bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
        check(bytes, Some(ext), Some(16000));
    }
}
