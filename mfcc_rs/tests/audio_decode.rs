//! Every supported encoding decodes to the values soundfile gives, every kind
//! of unreadable file is an error naming the file and the problem, and
//! resampling keeps soxr HQ's response, alignment and librosa's lengths.

mod common;

use std::f64::consts::PI;
use std::path::{Path, PathBuf};

use common::{flac, small_wav, wav, Encoding};
use mfcc_rs::audio::decode::{decode_bytes, decode_file};
use mfcc_rs::audio::resample::resample;
use mfcc_rs::audio::{load, load_bytes};
use mfcc_rs::Error;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mfcc_rs_{name}_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const ENCODINGS: [Encoding; 6] = [
    Encoding::U8,
    Encoding::I16,
    Encoding::I24,
    Encoding::I32,
    Encoding::F32,
    Encoding::F64,
];

/// Stored values (integer codes, or floats) and the float32 libsndfile
/// reads for them.
fn cases(encoding: Encoding) -> Vec<(f64, f32)> {
    match encoding {
        Encoding::U8 => vec![
            (-128.0, -1.0),
            (0.0, 0.0),
            (64.0, 0.5),
            (127.0, 127.0 / 128.0),
        ],
        Encoding::I16 => vec![
            (-32768.0, -1.0),
            (0.0, 0.0),
            (16384.0, 0.5),
            (1.0, 1.0 / 32768.0),
        ],
        Encoding::I24 => vec![
            (-8388608.0, -1.0),
            (4194304.0, 0.5),
            (1.0, 1.0 / 8388608.0),
            (-3.0, -3.0 / 8388608.0),
        ],
        Encoding::I32 => vec![
            (-2147483648.0, -1.0),
            (1073741824.0, 0.5),
            (65536.0, 65536.0 / 2147483648.0),
            (2147483647.0, 1.0),
        ],
        Encoding::F32 | Encoding::F64 => vec![(-1.0, -1.0), (0.25, 0.25), (0.1, 0.1), (1.5, 1.5)],
    }
}

#[test]
fn every_wav_encoding_decodes_to_soundfile_values() {
    for encoding in ENCODINGS {
        for extensible in [false, true] {
            let cases = cases(encoding);
            let frames: Vec<Vec<f64>> = cases.iter().map(|&(code, _)| vec![code]).collect();
            let bytes = wav(encoding, 22050, &frames, extensible);
            let got = decode_bytes(bytes, Some("wav"), Path::new("t.wav"))
                .unwrap_or_else(|e| panic!("{encoding:?} extensible={extensible}: {e}"));
            assert_eq!((got.sample_rate, got.channels), (22050, 1));
            let want: Vec<f32> = cases.iter().map(|&(_, v)| v).collect();
            assert_eq!(got.samples, want, "{encoding:?} extensible={extensible}");
        }
    }
}

#[test]
fn stereo_is_the_float32_mean_of_the_channels() {
    for encoding in ENCODINGS {
        for extensible in [false, true] {
            let cases = cases(encoding);
            // Left takes the cases in order, right in reverse.
            let frames: Vec<Vec<f64>> = cases
                .iter()
                .zip(cases.iter().rev())
                .map(|(l, r)| vec![l.0, r.0])
                .collect();
            let want: Vec<f32> = cases
                .iter()
                .zip(cases.iter().rev())
                .map(|(l, r)| (l.1 + r.1) / 2.0)
                .collect();
            let got = decode_bytes(
                wav(encoding, 8000, &frames, extensible),
                None,
                Path::new("s.wav"),
            )
            .unwrap_or_else(|e| panic!("{encoding:?} extensible={extensible}: {e}"));
            assert_eq!(got.channels, 2);
            assert_eq!(got.samples, want, "{encoding:?} extensible={extensible}");
        }
    }
}

#[test]
fn flac_decodes_to_soundfile_values() {
    for bits in [8, 16, 24] {
        let full = 1i64 << (bits - 1);
        let codes = [-full, -1, 0, 1, full / 2, full - 1];
        let frames: Vec<Vec<i32>> = codes
            .iter()
            .zip(codes.iter().rev())
            .map(|(&l, &r)| vec![l as i32, r as i32])
            .collect();
        let scale = |code: i64| code as f32 / full as f32;
        let mono: Vec<Vec<i32>> = frames.iter().map(|f| vec![f[0]]).collect();
        let got = decode_bytes(flac(bits, 44100, &mono), Some("flac"), Path::new("m.flac"))
            .unwrap_or_else(|e| panic!("{bits}-bit mono: {e}"));
        assert_eq!((got.sample_rate, got.channels), (44100, 1));
        assert_eq!(got.samples, codes.map(scale), "{bits}-bit mono");
        let got = decode_bytes(flac(bits, 44100, &frames), None, Path::new("s.flac"))
            .unwrap_or_else(|e| panic!("{bits}-bit stereo: {e}"));
        let want: Vec<f32> = codes
            .iter()
            .zip(codes.iter().rev())
            .map(|(&l, &r)| (scale(l) + scale(r)) / 2.0)
            .collect();
        assert_eq!((got.channels, got.samples), (2, want), "{bits}-bit stereo");
    }
}

#[test]
fn load_resamples_to_the_target_rate() {
    let dir = temp_dir("load");
    let path = dir.join("a.wav");
    let frames: Vec<Vec<f64>> = (0..44100)
        .map(|i| vec![((i as f64 * 0.05).sin() * 10000.0).round(), 0.0])
        .collect();
    std::fs::write(&path, wav(Encoding::I16, 44100, &frames, false)).unwrap();
    let audio = load(&path, Some(16000)).unwrap();
    assert_eq!(
        (
            audio.sample_rate,
            audio.original_sample_rate,
            audio.channels
        ),
        (16000, 44100, 2)
    );
    assert_eq!(audio.samples.len(), 16000);
    let native = load(&path, None).unwrap();
    assert_eq!((native.sample_rate, native.samples.len()), (44100, 44100));
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        load_bytes(bytes, Some("wav"), &path, Some(16000)).unwrap(),
        audio
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unreadable_files_are_errors_naming_file_and_problem() {
    let dir = temp_dir("errors");
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let err = decode_file(&dir.join("missing.wav")).unwrap_err();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{err}"
    );
    assert!(err.to_string().contains("missing.wav"), "{err}");

    let err = load(&dir, Some(16000)).unwrap_err();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::IsADirectory),
        "{err}"
    );
    assert!(err.to_string().contains("is a directory"), "{err}");

    let good = small_wav();
    let mut unsupported = small_wav();
    unsupported[20] = 0x55; // format tag 0x0055: MPEG layer 3 inside WAV
    let good_flac = flac(
        16,
        16000,
        &(0..300).map(|i| vec![i * 7]).collect::<Vec<_>>(),
    );
    let cases: Vec<(PathBuf, &str)> = vec![
        (write("empty.wav", b""), "file is empty"),
        (
            write("text.wav", b"just some text, not a RIFF file at all......"),
            "not a recognised audio format",
        ),
        (write("header.wav", &good[..30]), "truncated"),
        (
            write("data.wav", &good[..good.len() - 100]),
            "truncated: the file",
        ),
        (
            write("data.flac", &good_flac[..good_flac.len() - 200]),
            "truncated",
        ),
        (write("mp3inwav.wav", &unsupported), "unsupported"),
        (
            write("nosamples.wav", &wav(Encoding::I16, 16000, &[], false)),
            "contains no samples",
        ),
        (
            write(
                "nan.wav",
                &wav(
                    Encoding::F32,
                    16000,
                    &[vec![0.0], vec![f64::NAN], vec![0.5]],
                    false,
                ),
            ),
            "NaN or infinite sample at frame 1",
        ),
        (
            write(
                "inf.wav",
                &wav(Encoding::F64, 16000, &[vec![f64::INFINITY]], false),
            ),
            "NaN or infinite sample at frame 0",
        ),
        (
            write(
                "stereo_inf.wav",
                &wav(
                    Encoding::F32,
                    16000,
                    &[vec![0.0, 0.0], vec![0.0, f64::NEG_INFINITY]],
                    true,
                ),
            ),
            "NaN or infinite sample at frame 1",
        ),
    ];
    for (path, needle) in cases {
        let err = decode_file(&path).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Decode { .. }), "{text}");
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            text.starts_with(&path.display().to_string()),
            "'{text}' should start with the path"
        );
        assert!(
            text.contains(needle),
            "{name}: expected '{needle}' in '{text}'"
        );
        // The same bytes from memory give the same error.
        let again =
            load_bytes(std::fs::read(&path).unwrap(), None, &path, Some(16000)).unwrap_err();
        assert_eq!(again.to_string(), text);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

fn sine(freq: f64, rate: u32, n: usize, phase: f64) -> Vec<f32> {
    (0..n)
        .map(|i| (0.5 * (2.0 * PI * freq * i as f64 / rate as f64 + phase).sin()) as f32)
        .collect()
}

/// RMS level of `y` (away from the ends) relative to a 0.5-amplitude sine, in dB.
fn level_db(y: &[f32]) -> f64 {
    let middle = &y[y.len() / 10..y.len() * 9 / 10];
    let rms =
        (middle.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / middle.len() as f64).sqrt();
    20.0 * (rms / (0.5 / 2f64.sqrt())).log10()
}

#[test]
fn a_sine_comes_through_in_phase() {
    for from in [8000, 11025, 22050, 32000, 44100, 48000, 96000] {
        let y = resample(&sine(440.0, from, from as usize, 0.3), from, 16000).unwrap();
        let want = sine(440.0, 16000, 16000, 0.3);
        assert_eq!(y.len(), want.len());
        // Away from the ends, where the signal starts and stops abruptly.
        let worst = y[800..15200]
            .iter()
            .zip(&want[800..15200])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 2e-5, "{from} Hz: {worst}");
    }
}

#[test]
fn output_length_is_librosas() {
    // ceil(n * to / from); soxr computes round(n * to / from) of them and
    // librosa pads the rest with zeros.
    for (n, from, to, len, zeros) in [
        (44100, 44100, 16000, 16000, 0),
        (1, 44100, 16000, 1, 1),
        (1, 8000, 16000, 2, 0),
        (3, 48000, 16000, 1, 0),
        (7, 48000, 16000, 3, 1),
        (7, 8000, 16000, 14, 0),
        (101, 22050, 16000, 74, 1),
        (100, 22050, 16000, 73, 0),
        (50, 16000, 44100, 138, 0),
        (0, 44100, 16000, 0, 0),
    ] {
        let y = resample(&vec![0.25; n], from, to).unwrap();
        assert_eq!(y.len(), len, "{n} samples {from} -> {to}");
        let tail = y.iter().rev().take_while(|&&v| v == 0.0).count();
        assert_eq!(tail, zeros, "{n} samples {from} -> {to}: {y:?}");
    }
}

#[test]
fn output_is_not_delayed() {
    // Band-limited noise: a sum of sines below 3.5 kHz, generated at both rates.
    let tones: Vec<(f64, f64)> = (1..31)
        .map(|k| (k as f64 * 113.0, k as f64 * 2.1))
        .collect();
    let signal = |rate: u32, n: usize| -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f64 / rate as f64;
                tones
                    .iter()
                    .map(|&(f, p)| (2.0 * PI * f * t + p).sin())
                    .sum::<f64>() as f32
                    * 0.02
            })
            .collect()
    };
    for from in [11025, 44100, 48000, 8000] {
        let y = resample(&signal(from, from as usize), from, 16000).unwrap();
        let want = signal(16000, 16000);
        let correlation = |lag: isize| -> f64 {
            (1000..15000)
                .map(|i| y[i] as f64 * want[(i as isize + lag) as usize] as f64)
                .sum()
        };
        let best = (-20..=20)
            .max_by(|&a, &b| correlation(a).total_cmp(&correlation(b)))
            .unwrap();
        assert_eq!(best, 0, "{from} Hz");
    }
    // An impulse on the output grid lands on its output sample.
    let mut x = vec![0.0; 44100];
    x[441 * 37] = 1.0;
    let y = resample(&x, 44100, 16000).unwrap();
    let peak = (0..y.len()).max_by(|&a, &b| y[a].total_cmp(&y[b])).unwrap();
    assert_eq!(peak, 160 * 37);
}

#[test]
fn response_is_soxr_hqs() {
    // (tone, dB after 44.1 -> 16 kHz): flat to 0.91 of the new Nyquist
    // frequency, -6 dB near 0.957, then a 126+ dB stopband (soxr: -0.009 dB
    // at 7.3 kHz, -2.84 at 7.6, -52.9 at 7.9).
    for (freq, low, high) in [
        (1000.0, -0.001, 0.001),
        (7000.0, -0.01, 0.001),
        (7300.0, -0.012, 0.001),
        (7600.0, -3.1, -2.6),
        (7900.0, -58.0, -48.0),
        (8200.0, f64::NEG_INFINITY, -110.0),
        (10000.0, f64::NEG_INFINITY, -110.0),
        (20000.0, f64::NEG_INFINITY, -110.0),
    ] {
        let y = resample(&sine(freq, 44100, 88200, 0.0), 44100, 16000).unwrap();
        let db = level_db(&y);
        assert!((low..=high).contains(&db), "{freq} Hz: {db:.3} dB");
    }
    // Upsampling keeps the old band and adds nothing above it.
    let y = resample(&sine(3000.0, 8000, 16000, 0.0), 8000, 16000).unwrap();
    assert!(level_db(&y).abs() < 0.001);
}

#[test]
fn short_inputs_resample() {
    for n in [1, 2, 5, 50] {
        for (from, to) in [
            (44100, 16000),
            (8000, 16000),
            (96000, 16000),
            (16000, 22050),
        ] {
            let y = resample(&vec![0.5; n], from, to).unwrap();
            assert_eq!(y.len(), (n * to as usize).div_ceil(from as usize));
            assert!(
                y.iter().all(|v| v.is_finite() && v.abs() < 1.0),
                "{n} {from} {to}: {y:?}"
            );
        }
    }
}
