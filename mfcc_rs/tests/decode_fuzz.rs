//! Random and mutated bytes never make the decoder panic: every input is
//! either decoded or rejected with an error.

mod common;

use std::path::Path;

use mfcc_rs::audio::decode::decode_bytes;
use proptest::prelude::*;

fn check(bytes: Vec<u8>, ext: Option<&str>) {
    if let Ok(decoded) = decode_bytes(bytes, ext, Path::new("fuzz.wav")) {
        assert!(!decoded.samples.is_empty());
        assert!(decoded.samples.iter().all(|v| v.is_finite()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check(bytes, Some("wav"));
    }

    #[test]
    fn random_bytes_behind_a_riff_header(tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut bytes = b"RIFF\x24\x08\x00\x00WAVEfmt ".to_vec();
        bytes.extend(tail);
        check(bytes, None);
    }

    #[test]
    fn mutated_wav(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
                   cut in any::<prop::sample::Index>()) {
        let mut bytes = common::small_wav();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let keep = cut.index(bytes.len() + 1);
        bytes.truncate(keep.max(1));
        check(bytes, Some("wav"));
    }

    #[test]
    fn flac_marker_then_garbage(tail in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let mut bytes = b"fLaC\x00\x00\x00\x22".to_vec();
        bytes.extend(tail);
        check(bytes, Some("flac"));
    }
}
