//! A segment of a recording is what decoding the whole file and cutting it
//! at the segment's frames gives (then resampled alone), read by seeking;
//! segments that do not fit the file are errors naming the file and the
//! segment.

#[allow(dead_code)] // this file uses only part of the shared builders
mod common;

use std::path::{Path, PathBuf};

use common::{flac_blocks, wav, Encoding};
use mfcc_rs::audio::decode::decode_file;
use mfcc_rs::audio::resample::resample;
use mfcc_rs::audio::{AudioReader, Segment};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mfcc_rs_{name}_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `n` stereo frames of 16-bit codes: two tones and a little noise, so
/// that every frame differs from its neighbours.
fn codes(n: usize, rate: u32) -> Vec<Vec<i32>> {
    let mut state = 12345u32;
    (0..n)
        .map(|k| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let noise = f64::from(state >> 16) / 65536.0 - 0.5;
            let t = k as f64 / f64::from(rate);
            let left = 9000.0 * (2.0 * std::f64::consts::PI * 220.0 * t).sin() + 500.0 * noise;
            let right = 7000.0 * (2.0 * std::f64::consts::PI * 330.0 * t).sin() - 300.0 * noise;
            vec![left.round() as i32, right.round() as i32]
        })
        .collect()
}

fn as_f64(frames: &[Vec<i32>]) -> Vec<Vec<f64>> {
    frames
        .iter()
        .map(|f| f.iter().map(|&c| f64::from(c)).collect())
        .collect()
}

fn read(path: &Path, target: Option<u32>, segment: Segment) -> mfcc_rs::Result<Vec<f32>> {
    Ok(AudioReader::open_segment(path, target, 1.0, Some(segment))?
        .collect()?
        .samples)
}

#[test]
fn a_segment_is_the_whole_decode_cut_at_its_frames() {
    let dir = temp_dir("segment_cut");
    let rate = 44100;
    let frames = codes(3 * rate as usize, rate);
    let wav_path = dir.join("long.wav");
    std::fs::write(&wav_path, wav(Encoding::I16, rate, &as_f64(&frames), false)).unwrap();
    let flac_path = dir.join("long.flac");
    let flac = flac_blocks(16, rate, &frames, 1152, true, None);
    std::fs::write(&flac_path, flac).unwrap();
    for path in [&wav_path, &flac_path] {
        let whole = decode_file(path).unwrap().samples;
        assert_eq!(whole.len(), frames.len());
        // From the start, inside and at the edges of packets, to the end.
        for (start, end) in [
            (0.0, Some(0.5)),
            (0.25, Some(1.0)),
            (1152.0 / 44100.0, Some(2.0)),
            (1.234_567, Some(1.234_6)),
            (2.0, None),
            (1.5, Some(3.0)),
            (0.0, None),
        ] {
            let segment = Segment::new(start, end).unwrap();
            let (s, e) = segment.frames(rate);
            let cut = &whole[s as usize..e.map_or(whole.len(), |e| e as usize)];
            let what = format!("{} {start}-{end:?}", path.display());
            assert_eq!(read(path, None, segment).unwrap(), cut, "{what}");
            // Resampled after cutting: the resampler sees the segment alone.
            let resampled = resample(cut, rate, 16000).unwrap();
            assert_eq!(
                read(path, Some(16000), segment).unwrap(),
                resampled,
                "{what}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn flac_segments_seek_past_what_comes_before_them() {
    // Frame 3 of 20 cannot be decoded: a whole decode stops there, a
    // segment after it is found by seeking, never decoding it.
    let dir = temp_dir("segment_seek");
    let rate = 16000;
    let frames = codes(20 * 1024, rate);
    let path = dir.join("broken.flac");
    std::fs::write(&path, flac_blocks(16, rate, &frames, 1024, true, Some(3))).unwrap();
    let err = decode_file(&path).unwrap_err().to_string();
    assert!(err.contains("reserved"), "{err}");
    let clean = dir.join("clean.flac");
    std::fs::write(&clean, flac_blocks(16, rate, &frames, 1024, true, None)).unwrap();
    let whole = decode_file(&clean).unwrap().samples;
    for (start, end) in [
        (0.5, Some(1.0)),
        (10_000.0 / 16000.0, None),
        (0.0, Some(0.19)),
    ] {
        let segment = Segment::new(start, end).unwrap();
        let (s, e) = segment.frames(rate);
        let cut = &whole[s as usize..e.map_or(whole.len(), |e| e as usize)];
        assert_eq!(read(&path, None, segment).unwrap(), cut, "{start}-{end:?}");
    }
    // One that holds the broken frame fails as the whole file does.
    let err = read(&path, None, Segment::new(0.1, Some(0.5)).unwrap()).unwrap_err();
    assert!(err.to_string().contains("reserved"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn segments_outside_the_file_are_errors_naming_file_and_segment() {
    let dir = temp_dir("segment_errors");
    let rate = 16000;
    let frames = codes(2 * rate as usize, rate);
    let wav_path = dir.join("two.wav");
    std::fs::write(&wav_path, wav(Encoding::I16, rate, &as_f64(&frames), false)).unwrap();
    // Without the length in its header, the end is found by reading.
    let flac_path = dir.join("two.flac");
    std::fs::write(
        &flac_path,
        flac_blocks(16, rate, &frames, 4096, false, None),
    )
    .unwrap();
    for path in [&wav_path, &flac_path] {
        let name = path.display().to_string();
        for (start, end, expected) in [
            (
                2.5,
                Some(3.0),
                "segment 2.5-3 s starts past the end of the file",
            ),
            (
                2.0,
                None,
                "segment from 2 s starts past the end of the file",
            ),
            (
                1.5,
                Some(2.25),
                "segment 1.5-2.25 s ends past the end of the file (2 s)",
            ),
        ] {
            let err = read(path, None, Segment::new(start, end).unwrap())
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&name) && err.contains(expected), "{err}");
            // The file's duration, where the header or the reading tells it.
            if path == &wav_path || start < 2.0 {
                assert!(err.ends_with("(2 s)"), "{err}");
            }
        }
        // Up to the very end is fine.
        let last = read(path, None, Segment::new(1.5, Some(2.0)).unwrap()).unwrap();
        assert_eq!(last.len(), 8000);
    }
    // Shorter than one sample at the file's rate.
    let err = read(&wav_path, None, Segment::new(1.0, Some(1.00001)).unwrap()).unwrap_err();
    assert!(err.to_string().contains("shorter than one sample"), "{err}");
    for (start, end) in [
        (-1.0, None),
        (f64::NAN, None),
        (2.0, Some(2.0)),
        (2.0, Some(1.0)),
    ] {
        assert!(Segment::new(start, end).is_err(), "{start}-{end:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
