//! WAV, FLAC, AIFF and Ogg files built byte by byte, so decoder tests need
//! no encoder crate.

/// How samples are stored.
#[derive(Clone, Copy, Debug)]
pub enum Encoding {
    U8,
    I16,
    I24,
    I32,
    F32,
    F64,
}

impl Encoding {
    pub fn bits(self) -> u16 {
        match self {
            Encoding::U8 => 8,
            Encoding::I16 => 16,
            Encoding::I24 => 24,
            Encoding::I32 | Encoding::F32 => 32,
            Encoding::F64 => 64,
        }
    }

    fn is_float(self) -> bool {
        matches!(self, Encoding::F32 | Encoding::F64)
    }

    /// Raw little-endian bytes of one sample given as an integer code
    /// (for integer encodings) or a float value.
    pub fn encode(self, value: f64) -> Vec<u8> {
        match self {
            Encoding::U8 => vec![(value as i64 + 128) as u8],
            Encoding::I16 => (value as i16).to_le_bytes().to_vec(),
            Encoding::I24 => (value as i32).to_le_bytes()[..3].to_vec(),
            Encoding::I32 => (value as i32).to_le_bytes().to_vec(),
            Encoding::F32 => (value as f32).to_le_bytes().to_vec(),
            Encoding::F64 => value.to_le_bytes().to_vec(),
        }
    }
}

/// A complete WAV file. `frames[i][c]` is channel `c` of frame `i`;
/// `extensible` writes WAVE_FORMAT_EXTENSIBLE with the matching sub-format.
pub fn wav(encoding: Encoding, rate: u32, frames: &[Vec<f64>], extensible: bool) -> Vec<u8> {
    let channels = frames.first().map_or(1, |f| f.len()) as u16;
    let data: Vec<u8> = frames
        .iter()
        .flatten()
        .flat_map(|&v| encoding.encode(v))
        .collect();
    let block = channels * encoding.bits() / 8;
    let tag: u16 = if extensible {
        0xFFFE
    } else if encoding.is_float() {
        3
    } else {
        1
    };
    let mut fmt = Vec::new();
    fmt.extend(tag.to_le_bytes());
    fmt.extend(channels.to_le_bytes());
    fmt.extend(rate.to_le_bytes());
    fmt.extend((rate * block as u32).to_le_bytes());
    fmt.extend(block.to_le_bytes());
    fmt.extend(encoding.bits().to_le_bytes());
    if extensible {
        fmt.extend(22u16.to_le_bytes());
        fmt.extend(encoding.bits().to_le_bytes());
        let mask: u32 = if channels == 1 { 0x4 } else { 0x3 };
        fmt.extend(mask.to_le_bytes());
        let sub: u16 = if encoding.is_float() { 3 } else { 1 };
        fmt.extend(sub.to_le_bytes());
        fmt.extend([
            0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
        ]);
    }
    let mut out = Vec::new();
    out.extend(b"RIFF");
    out.extend((4 + 8 + fmt.len() as u32 + 8 + data.len() as u32).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend((fmt.len() as u32).to_le_bytes());
    out.extend(fmt);
    out.extend(b"data");
    out.extend((data.len() as u32).to_le_bytes());
    out.extend(data);
    out
}

/// A short mono 16-bit file of a decaying tone.
pub fn small_wav() -> Vec<u8> {
    let frames: Vec<Vec<f64>> = (0..400)
        .map(|i| vec![((i as f64 * 0.3).sin() * 8000.0).round()])
        .collect();
    wav(Encoding::I16, 16000, &frames, false)
}

/// A FLAC file holding one frame of VERBATIM subframes (the samples stored
/// as they are), so tests need no encoder. `frames[i][c]` is channel `c`.
pub fn flac(bits: u32, rate: u32, frames: &[Vec<i32>]) -> Vec<u8> {
    flac_blocks(bits, rate, frames, frames.len(), true, None)
}

/// [`flac`] in frames of `block` samples (the last one shorter), fewer than
/// 128 of them; `total` false leaves the length out of the header, as a
/// streaming encoder may. Frame `broken`, when given, has a reserved
/// subframe type, which no decoder can decode (its checksums are right, so
/// a reader seeking past it finds the frames around it).
pub fn flac_blocks(
    bits: u32,
    rate: u32,
    frames: &[Vec<i32>],
    block: usize,
    total: bool,
    broken: Option<usize>,
) -> Vec<u8> {
    let channels = frames[0].len() as u64;
    let n = frames.len() as u64;
    assert!(
        frames.len().div_ceil(block) < 128,
        "one-byte frame numbers only"
    );
    let mut info = BitWriter::default();
    // Min and max block size: at least 16, which the last block may undercut.
    info.put(block.max(16) as u64, 16);
    info.put(block.max(16) as u64, 16);
    info.put(0, 24); // min and max frame size: unknown
    info.put(0, 24);
    info.put(rate as u64, 20);
    info.put(channels - 1, 3);
    info.put(bits as u64 - 1, 5);
    info.put(if total { n } else { 0 }, 36);
    info.bytes.extend([0; 16]); // MD5: not computed

    let mut out = b"fLaC".to_vec();
    out.extend([0x80, 0, 0, 34]); // last metadata block: STREAMINFO, 34 bytes
    out.extend(info.bytes);
    for (number, samples) in frames.chunks(block).enumerate() {
        let mut frame = BitWriter::default();
        frame.put(0b1111_1111_1111_1000, 16); // sync, fixed block size
        frame.put(0b0111, 4); // block size - 1 follows in 16 bits
        frame.put(0, 4); // sample rate from STREAMINFO
        frame.put(channels - 1, 4); // independent channels
        frame.put(0, 4); // sample size from STREAMINFO
        frame.put(number as u64, 8);
        frame.put(samples.len() as u64 - 1, 16);
        let crc8 = crc(&frame.bytes, 8, 0x07);
        frame.put(crc8, 8);
        for c in 0..channels as usize {
            // VERBATIM or the reserved type 000010, no wasted bits.
            let kind = if broken == Some(number) {
                0b0000_0100
            } else {
                0b0000_0010
            };
            frame.put(kind, 8);
            for f in samples {
                frame.put(f[c] as u64 & ((1 << bits) - 1), bits);
            }
        }
        frame.align();
        let crc16 = crc(&frame.bytes, 16, 0x8005);
        frame.put(crc16, 16);
        out.extend(frame.bytes);
    }
    out
}

#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    used: u32,
}

impl BitWriter {
    fn put(&mut self, value: u64, bits: u32) {
        for i in (0..bits).rev() {
            if self.used % 8 == 0 {
                self.bytes.push(0);
            }
            let bit = ((value >> i) & 1) as u8;
            *self.bytes.last_mut().unwrap() |= bit << (7 - self.used % 8);
            self.used += 1;
        }
    }

    fn align(&mut self) {
        self.used = self.used.next_multiple_of(8);
    }
}

/// MSB-first CRC with a zero initial value, as FLAC's CRC-8 and CRC-16 and
/// Ogg's CRC-32.
fn crc(bytes: &[u8], width: u32, poly: u64) -> u64 {
    let top = 1u64 << (width - 1);
    let mask = (1u64 << width) - 1;
    let mut crc = 0u64;
    for &byte in bytes {
        crc ^= (byte as u64) << (width - 8);
        for _ in 0..8 {
            let shifted = if crc & top != 0 {
                (crc << 1) ^ poly
            } else {
                crc << 1
            };
            crc = shifted & mask;
        }
    }
    crc
}

/// An AIFF file of big-endian signed PCM with `bits` per sample (8, 16, 24
/// or 32). `frames[i][c]` is the integer code of channel `c` in frame `i`.
pub fn aiff(bits: u16, rate: u32, frames: &[Vec<i32>]) -> Vec<u8> {
    let channels = frames.first().map_or(1, |f| f.len()) as u16;
    let width = usize::from(bits / 8);
    let mut data = Vec::new();
    for &code in frames.iter().flatten() {
        data.extend_from_slice(&code.to_be_bytes()[4 - width..]);
    }
    let mut comm = Vec::new();
    comm.extend(channels.to_be_bytes());
    comm.extend((frames.len() as u32).to_be_bytes());
    comm.extend(bits.to_be_bytes());
    // The rate as an 80-bit extended float: exponent biased by 16383,
    // then a 64-bit mantissa with its leading 1 explicit.
    let exponent = 31 - rate.leading_zeros();
    comm.extend((16383 + exponent as u16).to_be_bytes());
    comm.extend((u64::from(rate) << (63 - exponent)).to_be_bytes());
    let mut ssnd = vec![0; 8]; // offset and block size: none
    ssnd.extend(data);
    let mut body = b"AIFF".to_vec();
    for (id, chunk) in [(b"COMM", comm), (b"SSND", ssnd)] {
        body.extend(id);
        body.extend((chunk.len() as u32).to_be_bytes());
        let odd = chunk.len() % 2 == 1;
        body.extend(chunk);
        if odd {
            body.push(0);
        }
    }
    let mut out = b"FORM".to_vec();
    out.extend((body.len() as u32).to_be_bytes());
    out.extend(body);
    out
}

/// An Ogg Vorbis file whose setup header declares a codebook of zero
/// dimensions with a lookup table: symphonia's Ogg reader (0.6.1) panics on
/// it, in release builds too (an assertion in its `lookup1_values`), while
/// reading the headers.
pub fn vorbis_panicking_on_setup() -> Vec<u8> {
    let mut ident = b"\x01vorbis".to_vec();
    ident.extend(0u32.to_le_bytes()); // version
    ident.push(1); // channels
    ident.extend(8000u32.to_le_bytes());
    ident.extend([0; 12]); // bitrates: unset
    ident.extend([0xB8, 1]); // block sizes 256 and 2048, framing bit
    let mut comment = b"\x03vorbis".to_vec();
    comment.extend([0; 8]); // no vendor, no comments
    comment.push(1); // framing bit
    let mut setup = b"\x05vorbis".to_vec();
    setup.extend(lsb_first(&[
        (0, 8),         // one codebook
        (0x564342, 24), // its sync pattern
        (0, 16),        // dimensions: 0
        (1, 24),        // entries: 1
        (1, 1),         // lengths ordered,
        (0, 5),         // from length 1,
        (1, 1),         // one entry of it
        (1, 4),         // lookup type 1
        (0, 32),        // minimum value
        (0, 32),        // delta
        (0, 4),         // value bits - 1
        (0, 1),         // sequence flag
    ]));
    setup.extend([0; 8]);
    let mut out = ogg_page(&[&ident], 0, true);
    out.extend(ogg_page(&[&comment, &setup], 1, false));
    out
}

/// Packs `(value, bits)` fields least significant bit first, as Vorbis does.
fn lsb_first(fields: &[(u64, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut used = 0;
    for &(value, bits) in fields {
        for i in 0..bits {
            if used % 8 == 0 {
                out.push(0);
            }
            *out.last_mut().unwrap() |= (((value >> i) & 1) as u8) << (used % 8);
            used += 1;
        }
    }
    out
}

/// One Ogg page of whole `packets` of stream 1, numbered `sequence`.
fn ogg_page(packets: &[&[u8]], sequence: u32, first: bool) -> Vec<u8> {
    let mut lacing = Vec::new();
    for packet in packets {
        lacing.extend(std::iter::repeat_n(255u8, packet.len() / 255));
        lacing.push((packet.len() % 255) as u8);
    }
    let mut page = b"OggS\x00".to_vec();
    page.push(if first { 2 } else { 0 }); // beginning of stream
    page.extend(0u64.to_le_bytes()); // granule position
    page.extend(1u32.to_le_bytes()); // stream serial number
    page.extend(sequence.to_le_bytes());
    page.extend([0; 4]); // CRC, filled in below
    page.push(lacing.len() as u8);
    page.extend(lacing);
    for packet in packets {
        page.extend(*packet);
    }
    let crc = crc(&page, 32, 0x04C1_1DB7) as u32;
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    page
}
