//! Decoding with symphonia: WAV (integer PCM 8/16/24/32-bit, IEEE float
//! 32/64, A-law, mu-law, ADPCM, WAVE_FORMAT_EXTENSIBLE), AIFF, FLAC, Ogg
//! Vorbis and MP3, to float32 mono. Sample scaling is libsndfile's, which
//! soundfile and librosa read: integers divided by 2^(bits-1), unsigned 8-bit
//! centred on 128. Channels are averaged in float32 as `np.mean` does.
//!
//! [`AudioStream`] decodes packet by packet, so a recording of any length
//! is read in bounded memory; [`decode_file`] and [`decode_bytes`] collect
//! its whole output. [`AudioStream::select`] narrows it to a segment: it
//! seeks to the segment's start and delivers exactly the frames a whole
//! decode has there.
//!
//! Where soundfile would quietly return part of a damaged file, this module
//! refuses it: a file whose data ends before its header says it does is an
//! error, not a shorter signal. A stream reports that at its end, after the
//! samples that were there.

use std::cell::Cell;
use std::io::{Cursor, ErrorKind, Read, Seek, SeekFrom};
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::{Error as SymphoniaError, SeekErrorKind};
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::units::{TimeBase, Timestamp};

use crate::error::{Error, Result};

/// Decoded audio, channels already averaged.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    /// Channels in the file, before averaging.
    pub channels: u16,
}

/// Reads and decodes a whole file. Every failure names `path` and says what
/// is wrong with it.
pub fn decode_file(path: &Path) -> Result<Decoded> {
    AudioStream::open(path)?.collect()
}

/// Decodes an in-memory file; `extension` is a format hint and `label` names
/// the file in errors.
pub fn decode_bytes(bytes: Vec<u8>, extension: Option<&str>, label: &Path) -> Result<Decoded> {
    AudioStream::from_bytes(bytes, extension, label)?.collect()
}

/// Samples read from the decoder per [`AudioStream::read`] call, at least:
/// packets are often a few hundred frames, and each call has a fixed cost.
const READ_AT_LEAST: usize = 1 << 15;

/// A file decoded a few packets at a time. A panic inside the decoder on
/// malformed input becomes an error, never an unwind into the caller (or
/// across the Python boundary), and prints nothing ([`guarded`]).
pub struct AudioStream {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    /// Frames the header announces, when it does.
    declared: Option<u64>,
    sample_rate: u32,
    channels: usize,
    /// Mono frames delivered so far.
    frames: usize,
    interleaved: Vec<f32>,
    label: PathBuf,
    finished: bool,
    /// The frames delivered, once [`AudioStream::select`] narrowed them.
    span: Option<Span>,
}

impl AudioStream {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path) -> Result<AudioStream> {
        // Opening a directory succeeds on Linux; reading it fails with a less
        // helpful error, so ask first.
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            let source =
                std::io::Error::new(ErrorKind::IsADirectory, "is a directory, not an audio file");
            return Err(Error::io(path, source));
        }
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let extension = path.extension().and_then(|e| e.to_str());
        Self::from_source(file, meta.len(), extension, path)
    }

    /// [`AudioStream::open`] for a file already in memory.
    pub fn from_bytes(
        bytes: impl AsRef<[u8]> + Send + Sync + 'static,
        extension: Option<&str>,
        label: &Path,
    ) -> Result<AudioStream> {
        let len = bytes.as_ref().len() as u64;
        Self::from_source(Cursor::new(bytes), len, extension, label)
    }

    fn from_source<R>(
        mut source: R,
        len: u64,
        extension: Option<&str>,
        label: &Path,
    ) -> Result<Self>
    where
        R: Read + Seek + Send + Sync + 'static,
    {
        if len == 0 {
            return Err(Error::decode(label, "file is empty"));
        }
        let patch = streamed_wav_patch(&mut source).map_err(|e| Error::io(label, e))?;
        let source = Patched {
            inner: source,
            len,
            pos: 0,
            patch,
        };
        guarded(|| Self::probe(source, extension, label))
            .map_err(|reason| Error::decode(label, reason))
    }

    fn probe(
        source: impl MediaSource + 'static,
        extension: Option<&str>,
        label: &Path,
    ) -> std::result::Result<Self, String> {
        let stream = MediaSourceStream::new(Box::new(source), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = extension {
            hint.with_extension(ext);
        }
        let format = symphonia::default::get_probe()
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
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| describe(&e, &Stage::Header))?;
        Ok(AudioStream {
            format,
            decoder,
            track_id,
            declared,
            sample_rate,
            channels: params.channels.as_ref().map_or(0, |c| c.count()),
            frames: 0,
            interleaved: Vec::new(),
            label: label.to_path_buf(),
            finished: false,
            span: None,
        })
    }

    /// Narrows the stream, before its first read, to frames `start` to
    /// `end` (exclusive; to the end of the file when `None`): what a whole
    /// decode has at those positions, bit for bit where the codec decodes
    /// a packet alone (PCM, ADPCM, FLAC). It seeks to the packet holding
    /// `start` and discards the frames before it; a format whose
    /// timestamps are not in frames, or that cannot seek, is decoded from
    /// its start and the frames before `start` discarded (still a packet at
    /// a time). Lossy codecs (MP3, Vorbis) restart their decoder at the
    /// seek point, so their first frames may differ slightly from a whole
    /// decode's.
    ///
    /// A segment that starts at or ends past the end of the file is an
    /// error naming the file, the segment and the file's duration: at once
    /// when the header gives the length, else when reading reaches the end.
    pub fn select(&mut self, start: u64, end: Option<u64>) -> Result<()> {
        let rate = self.sample_rate;
        let segment = segment_label(start, end, rate);
        if end.is_some_and(|e| e <= start) {
            return Err(Error::decode(
                &self.label,
                format!("{segment} is shorter than one sample at the file's rate ({rate} Hz)"),
            ));
        }
        if let Some(declared) = self.declared {
            let past = if start >= declared {
                Some("starts")
            } else {
                end.filter(|&e| e > declared).map(|_| "ends")
            };
            if let Some(what) = past {
                let reason = format!(
                    "{segment} {what} past the end of the file ({} s)",
                    seconds(declared, rate)
                );
                return Err(Error::decode(&self.label, reason));
            }
        }
        let track = self.format.tracks().iter().find(|t| t.id == self.track_id);
        let origin = track.map_or(0, |t| t.start_ts.get());
        let in_frames = track
            .and_then(|t| t.time_base)
            .is_some_and(|tb| Some(tb) == TimeBase::try_new(1, rate));
        let mut next = Some(0);
        if start > 0 && in_frames {
            let to = SeekTo::Timestamp {
                ts: Timestamp::new(
                    i64::try_from(start)
                        .unwrap_or(i64::MAX)
                        .saturating_add(origin),
                ),
                track_id: self.track_id,
            };
            let sought = catch_unwind(AssertUnwindSafe(|| {
                self.format.seek(SeekMode::Accurate, to)
            }))
            .map_err(|_| Error::decode(&self.label, GAVE_UP))?;
            match sought {
                Ok(_) => {
                    self.decoder.reset();
                    // The next packet's timestamp says where it is.
                    next = None;
                }
                // Nothing moved: decode from the start and discard.
                Err(SymphoniaError::SeekError(SeekErrorKind::Unseekable)) => {}
                Err(SymphoniaError::SeekError(SeekErrorKind::OutOfRange)) => {
                    let reason = format!("{segment} starts past the end of the file");
                    return Err(Error::decode(&self.label, reason));
                }
                Err(e) => {
                    let reason =
                        format!("cannot seek to {segment}: {}", describe(&e, &Stage::Header));
                    return Err(Error::decode(&self.label, reason));
                }
            }
        }
        self.span = Some(Span {
            start,
            end,
            next,
            origin,
        });
        Ok(())
    }

    /// The file's sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Channels in the file, before averaging (as the header or, once
    /// decoding started, the last packet says).
    pub fn channels(&self) -> u16 {
        u16::try_from(self.channels).unwrap_or(u16::MAX)
    }

    /// Appends the next mono samples, at least [`READ_AT_LEAST`] unless the
    /// file ends first, to `out`; returns `false` once the file has ended
    /// (and was complete) with nothing more appended.
    pub fn read(&mut self, out: &mut Vec<f32>) -> Result<bool> {
        if self.finished {
            return Ok(false);
        }
        let before = out.len();
        let more = guarded(|| self.read_packets(out))
            .map_err(|reason| Error::decode(&self.label, reason))?;
        check_level(&out[before..], self.frames).map_err(|e| Error::decode(&self.label, e))?;
        self.frames += out.len() - before;
        if !more {
            self.finished = true;
            self.check_complete()?;
        }
        Ok(out.len() > before || more)
    }

    /// Decodes packets into `out` until it grew by [`READ_AT_LEAST`];
    /// `false` at the end of the file.
    fn read_packets(&mut self, out: &mut Vec<f32>) -> std::result::Result<bool, String> {
        let before = out.len();
        let declared = self.declared;
        while out.len() - before < READ_AT_LEAST {
            let at = |n: usize| Stage::Data {
                frames: self.frames + n,
                declared,
            };
            let packet = match self.format.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) => return Ok(false),
                Err(e) => return Err(describe(&e, &at(out.len() - before))),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let buffer = self
                .decoder
                .decode(&packet)
                .map_err(|e| describe(&e, &at(out.len() - before)))?;
            self.channels = buffer.spec().channels().count();
            if self.channels == 0 {
                return Err("the stream has no channels".into());
            }
            self.interleaved.resize(buffer.samples_interleaved(), 0.0);
            buffer.copy_to_slice_interleaved(&mut self.interleaved);
            let n = self.interleaved.len() / self.channels;
            let (from, to) = self
                .span
                .as_mut()
                .map_or((0, n), |span| span.keep(packet.pts.get(), n));
            let kept = &self.interleaved[from * self.channels..to * self.channels];
            append_mono(kept, self.channels, out);
            if self.span.as_ref().is_some_and(Span::reached_end) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn check_complete(&self) -> Result<()> {
        // Frames of the file decoded: all it holds, unless a segment ended
        // the reading before its end.
        let decoded = match &self.span {
            None => self.frames as u64,
            Some(span) if span.reached_end() => return Ok(()),
            Some(span) => span.next.map_or(span.start, |n| n.max(0) as u64),
        };
        if let Some(declared) = self.declared.filter(|&d| decoded < d) {
            return Err(Error::decode(
                &self.label,
                format!(
                    "truncated: the file holds {decoded} of the {declared} frames its header declares"
                ),
            ));
        }
        if let Some(span) = &self.span {
            let what = if decoded <= span.start {
                Some("starts")
            } else {
                span.end.map(|_| "ends")
            };
            if let Some(what) = what {
                let rate = self.sample_rate;
                let reason = format!(
                    "{} {what} past the end of the file ({} s)",
                    segment_label(span.start, span.end, rate),
                    seconds(decoded, rate)
                );
                return Err(Error::decode(&self.label, reason));
            }
        }
        if self.frames == 0 {
            return Err(Error::decode(&self.label, "contains no samples"));
        }
        if self.channels > usize::from(u16::MAX) {
            return Err(Error::decode(&self.label, "more than 65535 channels"));
        }
        Ok(())
    }

    /// Every remaining sample.
    pub fn collect(mut self) -> Result<Decoded> {
        let mut samples = Vec::new();
        while self.read(&mut samples)? {}
        Ok(Decoded {
            samples,
            sample_rate: self.sample_rate,
            channels: self.channels(),
        })
    }
}

const GAVE_UP: &str = "malformed audio data (the decoder gave up on it)";

thread_local! {
    /// Set while this thread runs the decoder under [`guarded`].
    static IN_DECODER: Cell<bool> = const { Cell::new(false) };
}

/// Runs `decode`; a panic inside it (symphonia's, on malformed input)
/// becomes [`GAVE_UP`], the file's error, and prints nothing: the default
/// hook would write its message and a backtrace to stderr even though the
/// panic is caught, under the one-line error of the Python API and the
/// command lines.
fn guarded<T>(
    decode: impl FnOnce() -> std::result::Result<T, String>,
) -> std::result::Result<T, String> {
    silence_decoder_panics();
    let outer = IN_DECODER.replace(true);
    let result = catch_unwind(AssertUnwindSafe(decode));
    IN_DECODER.set(outer);
    result.unwrap_or_else(|_| Err(GAVE_UP.into()))
}

/// Installs, once per process, a panic hook that says nothing about a
/// panic on a thread inside [`guarded`] and hands every other panic to
/// the hook that was there before.
fn silence_decoder_panics() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            // `try_with` fails only while the thread is being torn down,
            // outside any decoder.
            if !IN_DECODER.try_with(Cell::get).unwrap_or(false) {
                previous(info);
            }
        }));
    });
}

/// The largest sample magnitude read as audio. Full scale is 1, and a float
/// file written at 32-bit integer scale stays below 2.2e9; far beyond that
/// lie integer samples read as floats through a damaged header. Held to
/// this, the float32 sums of the resampler and the STFT, and the STFT's
/// power (below (n_fft * 1e10)^2, 4e26 at n_fft 2048), stay far from
/// float32's 3.4e38: no NaN or infinity can arise after decoding.
pub const MAX_LEVEL: f32 = 1e10;

/// The one check that decoded audio is finite and within [`MAX_LEVEL`]:
/// every path from a file to samples or features (`load`, `load_bytes`,
/// [`AudioStream`], featurisation, prediction) reads through it.
/// `first_frame` is the frame number of `samples[0]`, for the message.
fn check_level(samples: &[f32], first_frame: usize) -> std::result::Result<(), String> {
    // False for NaN too.
    let within = |v: &f32| v.abs() <= MAX_LEVEL;
    // A pass with no early exit, which the compiler vectorises (10x faster
    // than `position`); the position is looked for only when it fails.
    if samples.iter().fold(true, |ok, v| ok & within(v)) {
        return Ok(());
    }
    match samples.iter().position(|v| !within(v)) {
        None => Ok(()),
        Some(at) if samples[at].is_finite() => Err(format!(
            "out-of-range sample at frame {} ({:e}; full scale is 1, the limit {MAX_LEVEL:e})",
            first_frame + at,
            samples[at]
        )),
        Some(at) => Err(format!(
            "NaN or infinite sample at frame {}",
            first_frame + at
        )),
    }
}

/// Frames `[start, end)` of a file (to its end when `end` is `None`), the
/// only ones a stream narrowed by [`AudioStream::select`] delivers.
struct Span {
    start: u64,
    end: Option<u64>,
    /// The file frame of the next decoded sample: counted from 0 when the
    /// stream is read from its start, `None` after a seek until a packet's
    /// timestamp says.
    next: Option<i64>,
    /// The timestamp of the file's first frame.
    origin: i64,
}

impl Span {
    /// The frames `[from, to)` to keep of a decoded packet of `n` frames
    /// stamped `pts`.
    fn keep(&mut self, pts: i64, n: usize) -> (usize, usize) {
        let first = *self.next.get_or_insert(pts - self.origin);
        let n = n as i64;
        self.next = Some(first + n);
        let within = |frame: u64| (frame as i64 - first).clamp(0, n) as usize;
        (within(self.start), self.end.map_or(n as usize, within))
    }

    /// Whether every frame up to `end` has been decoded.
    fn reached_end(&self) -> bool {
        matches!((self.end, self.next), (Some(end), Some(next)) if next >= end as i64)
    }
}

/// "segment 12.5-15 s", or "segment from 12.5 s" to the end of the file.
fn segment_label(start: u64, end: Option<u64>, rate: u32) -> String {
    match end {
        Some(end) => format!("segment {}-{} s", seconds(start, rate), seconds(end, rate)),
        None => format!("segment from {} s", seconds(start, rate)),
    }
}

/// `frames` at `rate` Hz in seconds, to the millisecond, for messages:
/// "12.5", "15", "0.333".
fn seconds(frames: u64, rate: u32) -> String {
    let text = format!("{:.3}", frames as f64 / f64::from(rate));
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Reads like `inner` except for the few bytes of `patch` at its offset.
struct Patched<R> {
    inner: R,
    len: u64,
    pos: u64,
    patch: Option<(u64, [u8; 4])>,
}

impl<R: Read> Read for Patched<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some((at, bytes)) = self.patch {
            for (i, &b) in bytes.iter().enumerate() {
                let k = at + i as u64;
                if (self.pos..self.pos + n as u64).contains(&k) {
                    buf[(k - self.pos) as usize] = b;
                }
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Patched<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = self.inner.seek(to)?;
        Ok(self.pos)
    }
}

impl<R: Read + Seek + Send + Sync> MediaSource for Patched<R> {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

/// Writers that stream WAV (ffmpeg into a pipe, some recorders) leave the
/// data chunk's size at 0xFFFFFFFF, and libsndfile reads such a file to its
/// end. Reading the size that is really there in its place makes symphonia
/// do the same instead of reporting the file as truncated: the patch (offset
/// and bytes) that does it, if the source is such a WAV. Leaves `source` at
/// its start.
fn streamed_wav_patch<R: Read + Seek>(source: &mut R) -> std::io::Result<Option<(u64, [u8; 4])>> {
    let len = source.seek(SeekFrom::End(0))?;
    let mut head = [0u8; 12];
    source.seek(SeekFrom::Start(0))?;
    let mut patch = None;
    if len >= 12 {
        source.read_exact(&mut head)?;
    }
    if len >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE" {
        let mut at = 12u64;
        let mut header = [0u8; 8];
        while at.saturating_add(8) <= len {
            source.seek(SeekFrom::Start(at))?;
            source.read_exact(&mut header)?;
            let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
            if &header[..4] == b"data" {
                if size == u32::MAX {
                    let present = u32::try_from(len - at - 8).unwrap_or(u32::MAX - 1);
                    patch = Some((at + 4, present.to_le_bytes()));
                }
                break;
            }
            // Chunks are padded to an even length.
            at = at.saturating_add(8 + u64::from(size) + u64::from(size & 1));
        }
    }
    source.seek(SeekFrom::Start(0))?;
    Ok(patch)
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

    /// `bytes` as the decoder reads them.
    fn as_read(bytes: &[u8]) -> Vec<u8> {
        let mut source = Cursor::new(bytes.to_vec());
        let patch = streamed_wav_patch(&mut source).unwrap();
        let mut read = Vec::new();
        let len = bytes.len() as u64;
        Patched {
            inner: source,
            len,
            pos: 0,
            patch,
        }
        .read_to_end(&mut read)
        .unwrap();
        read
    }

    #[test]
    fn streamed_wav_gets_its_real_data_size() {
        let bytes = wav_with_data_size(u32::MAX, &[0, 64, 0, 192]);
        assert_eq!(as_read(&bytes), wav_with_data_size(4, &[0, 64, 0, 192]));
        let decoded = decode_bytes(bytes, None, Path::new("s.wav")).unwrap();
        assert_eq!(decoded.samples, [0.5, -0.5]);
    }

    #[test]
    fn declared_sizes_are_left_alone() {
        for size in [0, 4, 100] {
            let bytes = wav_with_data_size(size, &[0, 64, 0, 192]);
            assert_eq!(as_read(&bytes), bytes);
        }
        let odd = b"RIFF\x04\x00\x00\x00WAVEdat".to_vec();
        assert_eq!(as_read(&odd), odd);
    }

    /// A source that counts the bytes read through it.
    struct Counted {
        inner: Cursor<Vec<u8>>,
        read: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Read for Counted {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            Ok(n)
        }
    }

    impl Seek for Counted {
        fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
            self.inner.seek(to)
        }
    }

    #[test]
    fn a_wav_segment_is_read_by_seeking_to_it() {
        let code = |k: u32| (k % 2000) as i16 - 1000;
        let data: Vec<u8> = (0..1_000_000).flat_map(|k| code(k).to_le_bytes()).collect();
        let bytes = wav_with_data_size(data.len() as u32, &data);
        let len = bytes.len() as u64;
        let read = std::sync::Arc::default();
        let source = Counted {
            inner: Cursor::new(bytes),
            read: std::sync::Arc::clone(&read),
        };
        let mut stream =
            AudioStream::from_source(source, len, None, Path::new("long.wav")).unwrap();
        stream.select(900_001, Some(901_000)).unwrap();
        let samples = stream.collect().unwrap().samples;
        let expected: Vec<f32> = (900_001..901_000)
            .map(|k| f32::from(code(k)) / 32768.0)
            .collect();
        assert_eq!(samples, expected);
        // The file is 2 MB; the header and the packets around the segment
        // are a few kB.
        let read = read.load(std::sync::atomic::Ordering::Relaxed);
        assert!(read < 100_000, "{read} bytes read");
    }
}
