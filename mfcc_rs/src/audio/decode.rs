//! Decoding with symphonia: WAV (integer PCM 8/16/24/32-bit, IEEE float
//! 32/64, A-law, mu-law, ADPCM, WAVE_FORMAT_EXTENSIBLE), AIFF, FLAC, Ogg
//! Vorbis and MP3, to float32 mono. Sample scaling is libsndfile's, which
//! soundfile and librosa read: integers divided by 2^(bits-1), unsigned 8-bit
//! centred on 128. Channels are averaged in float32 as `np.mean` does.
//!
//! Where soundfile would quietly return part of a damaged file, this module
//! refuses it: a file whose data ends before its header says it does is an
//! error, not a shorter signal.

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
    /// Channels in the file, before averaging.
    pub channels: u16,
}

/// Reads and decodes a file. Every failure names `path` and says what is
/// wrong with it.
pub fn decode_file(path: &Path) -> Result<Decoded> {
    // Opening a directory succeeds on Linux; reading it fails with a less
    // helpful error, so ask first.
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        let source =
            std::io::Error::new(ErrorKind::IsADirectory, "is a directory, not an audio file");
        return Err(Error::io(path, source));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let extension = path.extension().and_then(|e| e.to_str());
    decode_bytes(bytes, extension, path)
}

/// Decodes an in-memory file; `extension` is a format hint and `label` names
/// the file in errors. A panic inside the decoder on malformed input becomes
/// an error, never an unwind into the caller (or across the Python boundary).
pub fn decode_bytes(mut bytes: Vec<u8>, extension: Option<&str>, label: &Path) -> Result<Decoded> {
    if bytes.is_empty() {
        return Err(Error::decode(label, "file is empty"));
    }
    size_streamed_wav(&mut bytes);
    let decoded = catch_unwind(AssertUnwindSafe(|| decode_stream(bytes, extension)))
        .unwrap_or_else(|_| Err("malformed audio data (the decoder gave up on it)".into()))
        .map_err(|reason| Error::decode(label, reason))?;
    if decoded.samples.is_empty() {
        return Err(Error::decode(label, "contains no samples"));
    }
    if let Some(frame) = decoded.samples.iter().position(|v| !v.is_finite()) {
        return Err(Error::decode(
            label,
            format!("NaN or infinite sample at frame {frame}"),
        ));
    }
    Ok(decoded)
}

/// Writers that stream WAV (ffmpeg into a pipe, some recorders) leave the
/// data chunk's size at 0xFFFFFFFF, and libsndfile reads such a file to its
/// end. Writing in the size that is really there makes symphonia do the same
/// instead of reporting the file as truncated.
fn size_streamed_wav(bytes: &mut [u8]) {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return;
    }
    let mut at = 12usize;
    while let Some(header) = bytes.get(at..at + 8) {
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if &header[..4] == b"data" {
            if size == u32::MAX {
                let present = u32::try_from(bytes.len() - at - 8).unwrap_or(u32::MAX - 1);
                bytes[at + 4..at + 8].copy_from_slice(&present.to_le_bytes());
            }
            return;
        }
        // Chunks are padded to an even length.
        at = at.saturating_add(8 + size as usize + (size as usize & 1));
    }
}

/// Where decoding failed, for the message.
enum Stage {
    Header,
    /// After `frames` frames of the `declared` the header announced.
    Data {
        frames: usize,
        declared: Option<u64>,
    },
}

fn describe(err: &SymphoniaError, stage: &Stage) -> String {
    match (err, stage) {
        (SymphoniaError::IoError(e), Stage::Header) if e.kind() == ErrorKind::UnexpectedEof => {
            "truncated: the file ends too early to be opened".into()
        }
        (SymphoniaError::IoError(e), Stage::Data { frames, declared })
            if e.kind() == ErrorKind::UnexpectedEof =>
        {
            match declared {
                Some(declared) => {
                    format!("truncated: the file ends after {frames} of the {declared} frames its header declares")
                }
                None => format!("truncated: the file ends inside its data, after {frames} frames"),
            }
        }
        (SymphoniaError::Unsupported(what), _) => {
            format!("unsupported encoding or format ({what})")
        }
        (SymphoniaError::DecodeError(what), Stage::Header) => format!("malformed header ({what})"),
        (SymphoniaError::DecodeError(what), Stage::Data { frames, .. }) => {
            format!("malformed audio data after {frames} frames ({what})")
        }
        (other, _) => format!("cannot decode: {other}"),
    }
}

fn decode_stream(bytes: Vec<u8>, extension: Option<&str>) -> std::result::Result<Decoded, String> {
    let stream = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymphoniaError::Unsupported(what) if what.contains("no suitable format reader") => {
                "not a recognised audio format".to_string()
            }
            other => describe(&other, &Stage::Header),
        })?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or("no audio track")?;
    let (track_id, declared) = (track.id, track.num_frames);
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or("no audio codec parameters")?
        .clone();
    let sample_rate = params
        .sample_rate
        .filter(|&r| r > 0)
        .ok_or("the header gives no sample rate")?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| describe(&e, &Stage::Header))?;

    let mut mono = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    let mut channels = params.channels.as_ref().map_or(0, |c| c.count());
    let at = |frames: usize| Stage::Data { frames, declared };
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(e) => return Err(describe(&e, &at(mono.len()))),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buffer = decoder
            .decode(&packet)
            .map_err(|e| describe(&e, &at(mono.len())))?;
        channels = buffer.spec().channels().count();
        if channels == 0 {
            return Err("the stream has no channels".into());
        }
        interleaved.resize(buffer.samples_interleaved(), 0.0);
        buffer.copy_to_slice_interleaved(&mut interleaved);
        append_mono(&interleaved, channels, &mut mono);
    }
    if let Some(declared) = declared.filter(|&d| (mono.len() as u64) < d) {
        return Err(format!(
            "truncated: the file holds {} of the {declared} frames its header declares",
            mono.len()
        ));
    }
    Ok(Decoded {
        samples: mono,
        sample_rate,
        channels: u16::try_from(channels).map_err(|_| "more than 65535 channels")?,
    })
}

/// Averages interleaved channels in float32 as `np.mean(y, axis=0)` does:
/// summed in channel order, then divided by the count.
fn append_mono(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    if channels == 1 {
        out.extend_from_slice(interleaved);
        return;
    }
    let count = channels as f32;
    out.extend(
        interleaved
            .chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() / count),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_summed_in_order_then_divided() {
        let mut out = Vec::new();
        append_mono(&[1.0, 0.0, 0.5, 0.25], 2, &mut out);
        assert_eq!(out, [0.5, 0.375]);
        // (1e8 + 1) + -1e8 loses the 1 in float32; numpy gives the same 0.
        out.clear();
        append_mono(&[1e8, 1.0, -1e8], 3, &mut out);
        assert_eq!(out, [0.0]);
    }

    fn wav_with_data_size(size: u32, data: &[u8]) -> Vec<u8> {
        let mut bytes = b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00".to_vec();
        // PCM, mono, 8 kHz, 16000 bytes/s, block 2, 16 bits.
        bytes.extend([1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0]);
        bytes.extend(b"JUNK\x03\x00\x00\x00abc\x00");
        bytes.extend(b"data");
        bytes.extend(size.to_le_bytes());
        bytes.extend(data);
        bytes
    }

    #[test]
    fn streamed_wav_gets_its_real_data_size() {
        let mut bytes = wav_with_data_size(u32::MAX, &[0, 64, 0, 192]);
        size_streamed_wav(&mut bytes);
        assert_eq!(bytes, wav_with_data_size(4, &[0, 64, 0, 192]));
        let decoded = decode_bytes(
            wav_with_data_size(u32::MAX, &[0, 64, 0, 192]),
            None,
            Path::new("s.wav"),
        )
        .unwrap();
        assert_eq!(decoded.samples, [0.5, -0.5]);
    }

    #[test]
    fn declared_sizes_are_left_alone() {
        for size in [0, 4, 100] {
            let mut bytes = wav_with_data_size(size, &[0, 64, 0, 192]);
            size_streamed_wav(&mut bytes);
            assert_eq!(bytes, wav_with_data_size(size, &[0, 64, 0, 192]));
        }
        let mut odd = b"RIFF\x04\x00\x00\x00WAVEdat".to_vec();
        size_streamed_wav(&mut odd);
        assert_eq!(odd, b"RIFF\x04\x00\x00\x00WAVEdat");
    }
}
