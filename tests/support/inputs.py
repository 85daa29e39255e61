"""Inputs shared by tests, benchmarks and experiments: where the real
corpora are, and the synthetic parity signals."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def corpora_root() -> Path:
    """``$GLAM_CORPORA``, else ``../shared/corpora`` beside the checkout."""
    return Path(os.environ.get("GLAM_CORPORA", REPO.parent / "shared" / "corpora"))


def synthetic_signals(n: int = 32000, sr: int = 16000) -> dict[str, np.ndarray]:
    """The issue's synthetic parity signals, float32."""
    rng = np.random.default_rng(0)
    t = np.arange(n) / sr
    sweep_phase = 2 * np.pi * (50 * t + (7900 - 50) / (2 * t[-1]) * t**2)
    square = np.sign(np.sin(2 * np.pi * 220 * t)) * 1.5
    return {
        "white_noise": 0.3 * rng.standard_normal(n),
        "sine_sweep": 0.8 * np.sin(sweep_phase),
        "silence": np.zeros(n),
        "clipped_square": np.clip(square, -1.0, 1.0),
        "dc": np.full(n, 0.25),
        "tiny_noise": 1e-6 * rng.standard_normal(n),
    }


def vorbis_panicking_on_setup() -> bytes:
    """An Ogg Vorbis file whose setup header declares a codebook of zero
    dimensions with a lookup table: symphonia 0.6.1's Ogg reader panics on
    it, in release builds too, while reading the headers. The same bytes as
    ``vorbis_panicking_on_setup`` in ``mfcc_rs/tests/common/mod.rs``."""
    ident = b"\x01vorbis" + struct.pack("<IBI12xBB", 0, 1, 8000, 0xB8, 1)
    comment = b"\x03vorbis" + bytes(8) + b"\x01"
    fields = [  # (value, bits), least significant bit first
        (0, 8),  # one codebook
        (0x564342, 24),  # its sync pattern
        (0, 16),  # dimensions: 0
        (1, 24),  # entries: 1
        (1, 1),  # lengths ordered,
        (0, 5),  # from length 1,
        (1, 1),  # one entry of it
        (1, 4),  # lookup type 1
        (0, 32),  # minimum value
        (0, 32),  # delta
        (0, 4),  # value bits - 1
        (0, 1),  # sequence flag
    ]
    packed, shift = 0, 0
    for value, bits in fields:
        packed |= value << shift
        shift += bits
    setup = b"\x05vorbis" + packed.to_bytes((shift + 7) // 8, "little") + bytes(8)
    return _ogg_page([ident], 0, first=True) + _ogg_page([comment, setup], 1, first=False)


def _ogg_page(packets: list[bytes], sequence: int, first: bool) -> bytes:
    """One Ogg page of whole ``packets`` of stream 1."""
    lacing = b"".join(b"\xff" * (len(p) // 255) + bytes([len(p) % 255]) for p in packets)
    header = b"OggS\x00" + bytes([2 if first else 0]) + struct.pack("<qII4xB", 0, 1, sequence, len(lacing))
    page = bytearray(header + lacing + b"".join(packets))
    crc = 0  # CRC-32, polynomial 0x04C11DB7, MSB first, over the page with its CRC field zero
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    page[22:26] = struct.pack("<I", crc)
    return bytes(page)
