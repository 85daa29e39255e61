//! WAV files built byte by byte, so decoder tests need no encoder crate.

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
