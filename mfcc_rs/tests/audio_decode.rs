//! Every supported WAV encoding decodes to the values soundfile gives, and
//! every kind of unreadable file is an error naming the file and the problem.

mod common;

use std::path::{Path, PathBuf};

use common::{small_wav, wav, Encoding};
use mfcc_rs::audio::decode::{decode_bytes, decode_file};
use mfcc_rs::audio::load;
use mfcc_rs::Error;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mfcc_rs_{name}_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Integer codes per encoding and the float32 value libsndfile maps them to.
fn cases(encoding: Encoding) -> Vec<(f64, f32)> {
    match encoding {
        Encoding::U8 => vec![(-128.0, -1.0), (0.0, 0.0), (64.0, 0.5), (127.0, 127.0 / 128.0)],
        Encoding::I16 => vec![(-32768.0, -1.0), (0.0, 0.0), (16384.0, 0.5), (1.0, 1.0 / 32768.0)],
        Encoding::I24 => vec![(-8388608.0, -1.0), (4194304.0, 0.5), (1.0, 1.0 / 8388608.0), (-3.0, -3.0 / 8388608.0)],
        Encoding::I32 => vec![(-2147483648.0, -1.0), (1073741824.0, 0.5), (65536.0, 65536.0 / 2147483648.0)],
        Encoding::F32 | Encoding::F64 => vec![(-1.0, -1.0), (0.25, 0.25), (0.1, 0.1), (1.5, 1.5)],
    }
}

#[test]
fn every_encoding_decodes_to_soundfile_values() {
    let encodings = [Encoding::U8, Encoding::I16, Encoding::I24, Encoding::I32, Encoding::F32, Encoding::F64];
    for encoding in encodings {
        for extensible in [false, true] {
            let cases = cases(encoding);
            let frames: Vec<Vec<f64>> = cases.iter().map(|&(code, _)| vec![code]).collect();
            let bytes = wav(encoding, 22050, &frames, extensible);
            let got = decode_bytes(bytes, Some("wav"), Path::new("t.wav"))
                .unwrap_or_else(|e| panic!("{encoding:?} extensible={extensible}: {e}"));
            assert_eq!(got.sample_rate, 22050);
            assert_eq!(got.channels, 1);
            let want: Vec<f32> = cases.iter().map(|&(_, v)| v).collect();
            assert_eq!(got.samples, want, "{encoding:?} extensible={extensible}");
        }
    }
}

#[test]
fn channels_are_averaged() {
    let frames = vec![vec![16384.0, 0.0], vec![-16384.0, -16384.0], vec![8192.0, 16384.0]];
    for extensible in [false, true] {
        let got = decode_bytes(wav(Encoding::I16, 8000, &frames, extensible), None, Path::new("s.wav")).unwrap();
        assert_eq!(got.channels, 2);
        assert_eq!(got.samples, vec![0.25, -0.5, 0.375]);
    }
}

#[test]
fn load_resamples_to_the_target_rate() {
    let dir = temp_dir("load");
    let path = dir.join("a.wav");
    let frames: Vec<Vec<f64>> = (0..44100).map(|i| vec![((i as f64 * 0.05).sin() * 10000.0).round()]).collect();
    std::fs::write(&path, wav(Encoding::I16, 44100, &frames, false)).unwrap();
    let audio = load(&path, Some(16000)).unwrap();
    assert_eq!((audio.sample_rate, audio.original_sample_rate), (16000, 44100));
    assert_eq!(audio.samples.len(), 16000);
    let native = load(&path, None).unwrap();
    assert_eq!((native.sample_rate, native.samples.len()), (44100, 44100));
    std::fs::remove_dir_all(dir).unwrap();
}

fn message(result: mfcc_rs::Result<impl std::fmt::Debug>) -> (Error, String) {
    let err = result.unwrap_err();
    let text = err.to_string();
    (err, text)
}

#[test]
fn unreadable_files_are_errors_naming_file_and_problem() {
    let dir = temp_dir("errors");
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let (err, text) = message(decode_file(&dir.join("missing.wav")));
    assert!(matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound), "{text}");
    assert!(text.contains("missing.wav"));

    let (err, text) = message(decode_file(&dir));
    assert!(matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::IsADirectory), "{text}");

    let cases: Vec<(PathBuf, &str)> = {
        let good = small_wav();
        let mut no_samples = wav(Encoding::I16, 16000, &[], false);
        no_samples.truncate(no_samples.len());
        let mut unsupported = small_wav();
        unsupported[20] = 0x55; // format tag 0x0055 (MPEG layer 3 in WAV)
        let mut nan = wav(Encoding::F32, 16000, &[vec![0.0], vec![f64::NAN], vec![0.5]], false);
        let inf = wav(Encoding::F64, 16000, &[vec![f64::INFINITY]], false);
        nan.truncate(nan.len());
        vec![
            (write("empty.wav", b""), "file is empty"),
            (write("text.wav", b"just some text, not a RIFF file at all......"), "not a recognised audio format"),
            (write("header.wav", &good[..30]), "truncated"),
            (write("data.wav", &good[..good.len() - 100]), "truncated"),
            (write("mp3inwav.wav", &unsupported), "unsupported"),
            (write("nosamples.wav", &no_samples), "contains no samples"),
            (write("nan.wav", &nan), "NaN or infinite sample at frame 1"),
            (write("inf.wav", &inf), "NaN or infinite sample at frame 0"),
        ]
    };
    for (path, needle) in cases {
        let (err, text) = message(decode_file(&path));
        assert!(matches!(err, Error::Decode { .. }), "{text}");
        assert!(text.contains(path.file_name().unwrap().to_str().unwrap()), "{text}");
        let problem = text.rsplit(": ").next().unwrap_or_default();
        assert!(text.contains(needle), "expected '{needle}' in '{text}'");
        assert!(!problem.is_empty(), "{text}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
