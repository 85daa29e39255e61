//! Decoding with symphonia: WAV (integer PCM 8/16/24/32-bit, IEEE float
//! 32/64, WAVE_FORMAT_EXTENSIBLE), AIFF, FLAC, Ogg Vorbis and MP3, to float32
//! mono. Sample scaling follows libsndfile (what soundfile and librosa read):
//! integers divided by 2^(bits-1), unsigned 8-bit centred on 128.

use std::io::{Cursor, ErrorKind};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use crate::error::{Error, Result};

/// Decoded audio, channels already averaged.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    pub channels: u16,
}

/// Reads and decodes a file. Every failure names `path` and says what is
/// wrong with it.
pub fn decode_file(path: &Path) -> Result<Decoded> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::io(
            path,
            std::io::Error::new(ErrorKind::IsADirectory, "is a directory, not an audio file"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let extension = path.extension().and_then(|e| e.to_str());
    decode_bytes(bytes, extension, path)
}

/// Decodes an in-memory file; `label` names it in errors. A panic inside the
/// decoder on malformed input becomes an error, never an unwind into the
/// caller (or across the Python boundary).
pub fn decode_bytes(bytes: Vec<u8>, extension: Option<&str>, label: &Path) -> Result<Decoded> {
    if bytes.is_empty() {
        return Err(Error::decode(label, "file is empty"));
    }
    let decoded = catch_unwind(AssertUnwindSafe(|| decode_stream(bytes, extension, label)))
        .unwrap_or_else(|_| Err(Error::decode(label, "malformed audio data (the decoder gave up)")))?;
    if decoded.samples.is_empty() {
        return Err(Error::decode(label, "contains no samples"));
    }
    if let Some(i) = decoded.samples.iter().position(|v| !v.is_finite()) {
        return Err(Error::decode(label, format!("NaN or infinite sample at frame {i}")));
    }
    Ok(decoded)
}

fn describe(err: &SymphoniaError) -> String {
    match err {
        SymphoniaError::IoError(e) if e.kind() == ErrorKind::UnexpectedEof => {
            "truncated: the file ends inside its header or data".into()
        }
        SymphoniaError::Unsupported(what) => format!("unsupported encoding or format ({what})"),
        other => other.to_string(),
    }
}

fn decode_stream(bytes: Vec<u8>, extension: Option<&str>, label: &Path) -> Result<Decoded> {
    let fail = |reason: String| Error::decode(label, reason);
    let stream = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(&hint, stream, FormatOptions::default(), MetadataOptions::default())
        .map_err(|e| match e {
            SymphoniaError::Unsupported(what) if what.contains("no suitable format reader") => {
                fail("not a recognised audio format".into())
            }
            other => fail(describe(&other)),
        })?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| fail("no audio track".into()))?;
    let (track_id, declared_frames) = (track.id, track.num_frames);
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| fail("no audio codec parameters".into()))?
        .clone();
    let sample_rate = params
        .sample_rate
        .filter(|&r| r > 0)
        .ok_or_else(|| fail("the header gives no sample rate".into()))?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| fail(describe(&e)))?;

    let mut mono = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    let mut channels = params.channels.as_ref().map_or(0, |c| c.count());
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(e) => return Err(fail(format!("{} after {} frames", describe(&e), mono.len()))),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buffer = decoder
            .decode(&packet)
            .map_err(|e| fail(format!("{} after {} frames", describe(&e), mono.len())))?;
        channels = buffer.spec().channels().count();
        if channels == 0 {
            return Err(fail("zero channels".into()));
        }
        interleaved.resize(buffer.samples_interleaved(), 0.0);
        buffer.copy_to_slice_interleaved(&mut interleaved);
        append_mono(&interleaved, channels, &mut mono);
    }
    if let Some(declared) = declared_frames {
        if (mono.len() as u64) < declared {
            return Err(fail(format!(
                "truncated: the header declares {declared} frames but the file holds {}",
                mono.len()
            )));
        }
    }
    Ok(Decoded {
        samples: mono,
        sample_rate,
        channels: channels as u16,
    })
}

/// Averages interleaved channels in float32, as `np.mean(y, axis=0)` does.
fn append_mono(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    if channels == 1 {
        out.extend_from_slice(interleaved);
        return;
    }
    let scale = channels as f32;
    out.extend(
        interleaved
            .chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() / scale),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stereo_is_averaged() {
        let mut out = Vec::new();
        append_mono(&[1.0, 0.0, 0.5, 0.25], 2, &mut out);
        assert_eq!(out, [0.5, 0.375]);
    }

    #[test]
    fn garbage_is_not_audio() {
        let err = decode_bytes(b"hello world, definitely not audio".to_vec(), Some("wav"), Path::new("x.wav"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("x.wav: "), "{err}");
    }
}
