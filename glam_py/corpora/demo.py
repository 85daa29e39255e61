"""A small synthetic emotional speech corpus, generated deterministically
with no download, for the main job and the tests.

Source-filter synthesis: a glottal pulse train on an F0 contour (level,
range, declination, accents, jitter), aspiration noise for breathy voices,
a spectral tilt for voice quality, vowel formants that move syllable by
syllable, noise bursts for consonants, pauses and a little room noise. The
four emotions differ the way acted emotions do: pitch level and range,
speaking rate, vocal effort (tilt) and breathiness. Each utterance's
recording gain is random over 16 dB, so loudness alone says little about
the class; speakers differ in pitch, vocal-tract length and habits.

    python -m glam_py.corpora.demo --out data/demo
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

DEMO_LABELS = ("neutral", "happy", "sad", "angry")
FORMAT_VERSION = 2

# F1, F2, F3 (Hz) of five vowels for an adult male vocal tract.
VOWELS = np.array([
    [730, 1090, 2440],
    [270, 2290, 3010],
    [300, 870, 2240],
    [530, 1840, 2480],
    [570, 840, 2410],
], dtype=float)
BANDWIDTHS = np.array([80.0, 110.0, 160.0])

FRAME = 512
HOP = 128


@dataclass(frozen=True)
class Emotion:
    """Mean acoustic settings of an emotion; each utterance draws around them."""

    f0_scale: float  # pitch level relative to the speaker's
    f0_range: float  # accent size in semitones
    rate: float  # syllables per second
    tilt: float  # spectral slope above 500 Hz in dB per octave (vocal effort)
    breathiness: float  # aspiration noise relative to the pulses
    formant_shift: float  # relative shift of F1/F2 (smiling raises them)


EMOTIONS = {
    "neutral": Emotion(1.00, 2.5, 4.2, -12.0, 0.06, 1.00),
    "happy": Emotion(1.25, 6.5, 4.9, -8.5, 0.06, 1.08),
    "sad": Emotion(0.88, 1.0, 3.0, -18.0, 0.30, 0.95),
    "angry": Emotion(1.20, 4.5, 5.4, -4.0, 0.03, 1.03),
}


@dataclass(frozen=True)
class Speaker:
    name: str
    f0: float  # habitual pitch in Hz
    formant_scale: float  # shorter vocal tracts have higher formants
    rate_scale: float
    tilt_offset: float
    expressiveness: float  # how strongly this speaker acts the emotions


def make_speakers(n: int, seed: int) -> list[Speaker]:
    rng = np.random.default_rng([seed, 7919])
    speakers = []
    for i in range(n):
        female = i % 2 == 1
        speakers.append(Speaker(
            name=f"spk{i:02d}",
            f0=float(rng.uniform(185, 235) if female else rng.uniform(95, 135)),
            formant_scale=float(rng.uniform(1.12, 1.2) if female else rng.uniform(0.95, 1.03)),
            rate_scale=float(rng.uniform(0.85, 1.15)),
            tilt_offset=float(rng.uniform(-2.0, 2.0)),
            expressiveness=float(rng.uniform(0.75, 1.0)),
        ))
    return speakers


def _blend(neutral: float, target: float, amount: float) -> float:
    return neutral + amount * (target - neutral)


def _utterance_settings(emotion: Emotion, speaker: Speaker, rng: np.random.Generator) -> dict:
    """Draws one utterance's settings: the speaker's rendering of the
    emotion, with enough spread that the classes overlap."""
    neutral = EMOTIONS["neutral"]
    act = speaker.expressiveness * rng.uniform(0.75, 1.2)
    return dict(
        f0=speaker.f0 * _blend(1.0, emotion.f0_scale, act) * rng.normal(1.0, 0.06),
        f0_range=max(0.3, _blend(neutral.f0_range, emotion.f0_range, act) * rng.normal(1.0, 0.25)),
        rate=speaker.rate_scale * _blend(neutral.rate, emotion.rate, act) * rng.normal(1.0, 0.1),
        tilt=_blend(neutral.tilt, emotion.tilt, act) + speaker.tilt_offset + rng.normal(0.0, 1.5),
        breathiness=max(0.0, _blend(neutral.breathiness, emotion.breathiness, act) + rng.normal(0, 0.03)),
        formant_shift=_blend(1.0, emotion.formant_shift, act) * rng.normal(1.0, 0.015),
    )


def _syllables(duration: float, rate: float, rng: np.random.Generator) -> list[tuple[float, float, int]]:
    """(start s, length s, vowel) of each syllable, with short pauses between phrases."""
    out, t = [], 0.05
    while True:
        length = rng.uniform(0.7, 1.3) / rate
        if t + length > duration - 0.05:
            return out
        out.append((t, length, int(rng.integers(len(VOWELS)))))
        t += length
        if rng.random() < 0.12:
            t += rng.uniform(0.1, 0.3)


def _f0_contour(n: int, sr: int, s: dict, syllables, rng) -> np.ndarray:
    t = np.arange(n) / sr
    semitones = -2.0 * t / max(t[-1], 1e-9)  # declination over the utterance
    for start, length, _ in syllables:
        accent = s["f0_range"] * rng.uniform(0.2, 1.0) * (1 if rng.random() < 0.75 else -0.5)
        inside = (t >= start) & (t < start + length)
        semitones[inside] += accent * np.sin(np.pi * (t[inside] - start) / length)
    wander = np.cumsum(rng.normal(0.0, 0.02, n)) / np.sqrt(sr)  # slow jitter
    return s["f0"] * 2.0 ** ((semitones + wander) / 12.0)


def _excitation(f0: np.ndarray, sr: int, s: dict, rng) -> np.ndarray:
    """Glottal pulses (a differentiated Rosenberg-like shape) plus
    aspiration noise."""
    phase = np.cumsum(f0 / sr)
    frac = phase % 1.0
    open_phase = 0.6
    flow = np.where(frac < open_phase, 0.5 * (1 - np.cos(np.pi * frac / open_phase)),
                    np.cos(0.5 * np.pi * (frac - open_phase) / (1 - open_phase)) ** 2)
    pulses = np.diff(flow, prepend=flow[0]) * sr / f0.mean()
    shimmer = 1.0 + 0.08 * rng.standard_normal(int(phase[-1]) + 2)[phase.astype(int)]
    noise = rng.standard_normal(len(f0)) * s["breathiness"] * 3.0
    return pulses * shimmer + noise * (0.5 + 0.5 * flow)


def _envelopes(n_frames: int, sr: int, s: dict, speaker: Speaker, syllables, rng):
    """Per STFT frame: formant frequencies, voicing gain and consonant noise gain."""
    times = np.arange(n_frames) * HOP / sr
    formants = np.tile(VOWELS[0], (n_frames, 1))
    voiced = np.zeros(n_frames)
    burst = np.zeros(n_frames)
    for start, length, vowel in syllables:
        inside = (times >= start) & (times < start + length)
        formants[inside] = VOWELS[vowel]
        rel = (times[inside] - start) / length
        voiced[inside] = np.clip(np.sin(np.pi * np.clip((rel - 0.15) / 0.85, 0, 1)) ** 0.7, 0, 1)
        if rng.random() < 0.7:
            burst[inside] = np.where(rel < 0.15, rng.uniform(0.2, 0.6), 0.0)
    scale = speaker.formant_scale * np.array([s["formant_shift"], s["formant_shift"], 1.0])
    # Formants glide between vowels instead of jumping.
    kernel = np.hanning(9) / np.hanning(9).sum()
    formants = np.stack([np.convolve(formants[:, k], kernel, mode="same") for k in range(3)], 1)
    formants[:4], formants[-4:] = formants[4], formants[-5]
    return formants * scale, voiced, burst


def _spectral_filter(freqs: np.ndarray, formants: np.ndarray, tilt: float) -> np.ndarray:
    """|H(f)| per frame: three resonances and the voice-quality tilt."""
    f = freqs[None, :, None]
    fc = formants[:, None, :]
    resonance = 1.0 / np.sqrt((1 - (f / fc) ** 2) ** 2 + (f * BANDWIDTHS / fc**2) ** 2)
    octaves = np.log2(np.maximum(freqs, 500.0) / 500.0)
    return resonance.prod(axis=2) * 10 ** (tilt * octaves / 20.0)[None, :]


def _overlap_add(frames: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n + FRAME)
    for k in range(FRAME // HOP):
        chunk = frames[k :: FRAME // HOP].reshape(-1)
        start = k * HOP
        out[start : start + len(chunk)] += chunk[: len(out) - start]
    return out[:n]


def synthesize(emotion: str, speaker: Speaker, duration: float, sr: int, rng) -> np.ndarray:
    s = _utterance_settings(EMOTIONS[emotion], speaker, rng)
    n = int(duration * sr)
    syllables = _syllables(duration, s["rate"], rng)
    f0 = _f0_contour(n, sr, s, syllables, rng)
    source = _excitation(f0, sr, s, rng)
    noise = rng.standard_normal(n)
    window = np.hanning(FRAME + 1)[:-1]
    n_frames = n // HOP + 1
    padded = lambda x: np.concatenate([x, np.zeros(FRAME + HOP)])  # noqa: E731
    idx = np.arange(n_frames)[:, None] * HOP + np.arange(FRAME)[None, :]
    formants, voiced, burst = _envelopes(n_frames, sr, s, speaker, syllables, rng)
    freqs = np.fft.rfftfreq(FRAME, 1.0 / sr)
    voiced_spec = np.fft.rfft(padded(source)[idx] * window, axis=1)
    voiced_spec *= _spectral_filter(freqs, formants, s["tilt"]) * voiced[:, None]
    fricative_shape = np.clip((freqs - 2500.0) / 2500.0, 0.0, 1.0)[None, :] * 8.0
    noise_spec = np.fft.rfft(padded(noise)[idx] * window, axis=1) * fricative_shape * burst[:, None]
    # Hann windows at a quarter-frame hop sum to 2: undo that gain.
    speech = _overlap_add(np.fft.irfft(voiced_spec + noise_spec, FRAME, axis=1) * window, n) / 2.0
    speech /= np.max(np.abs(speech)) + 1e-12
    room = 10 ** (-55 / 20) * rng.standard_normal(n)
    gain_db = rng.uniform(-24.0, -8.0)
    return (speech * 10 ** (gain_db / 20) + room).astype(np.float32)


def _duration(rng) -> float:
    # About a fifth of the utterances are shorter than the 2 s window.
    if rng.random() < 0.2:
        return float(rng.uniform(1.5, 1.95))
    return float(rng.uniform(2.0, 6.0))


def _settings(n_speakers: int, per_class_per_speaker: int, seed: int, sample_rate: int) -> dict:
    return dict(format=FORMAT_VERSION, n_speakers=n_speakers,
                per_class_per_speaker=per_class_per_speaker, seed=seed,
                sample_rate=sample_rate, labels=list(DEMO_LABELS))


def _complete(root: Path, settings: dict) -> bool:
    try:
        recorded = json.loads((root / "demo.json").read_text())
    except (OSError, ValueError):
        return False
    if recorded.get("settings") != settings:
        return False
    return all((root / p).is_file() for p in recorded.get("files", []))


def generate_demo_corpus(root: str | Path, *, n_speakers: int = 8, per_class_per_speaker: int = 10,
                         seed: int = 0, sample_rate: int = 16000, progress: bool = False) -> Path:
    """Writes the corpus under ``root`` (WAV files in ``root/wav`` and
    ``root/manifest.csv``) and returns the manifest's path. Does nothing
    when ``root`` already holds a complete corpus of the same settings."""
    root = Path(root)
    settings = _settings(n_speakers, per_class_per_speaker, seed, sample_rate)
    manifest = root / "manifest.csv"
    if _complete(root, settings) and manifest.is_file():
        return manifest
    (root / "wav").mkdir(parents=True, exist_ok=True)
    speakers = make_speakers(n_speakers, seed)
    rows = []
    jobs = [(si, ci, k) for si in range(n_speakers) for ci in range(len(DEMO_LABELS))
            for k in range(per_class_per_speaker)]
    if progress:
        from tqdm import tqdm
        jobs = tqdm(jobs, desc="generating demo corpus", unit="utt")
    for si, ci, k in jobs:
        # Seeded per utterance, so the result does not depend on order.
        rng = np.random.default_rng([seed, si, ci, k])
        label, speaker = DEMO_LABELS[ci], speakers[si]
        y = synthesize(label, speaker, _duration(rng), sample_rate, rng)
        rel = f"wav/{speaker.name}_{label}_{k:03d}.wav"
        sf.write(root / rel, y, sample_rate, subtype="PCM_16")
        rows.append((rel, label, speaker.name))
    with manifest.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "speaker"])
        writer.writerows(rows)
    record = dict(settings=settings, files=[r[0] for r in rows],
                  speakers=[asdict(s) for s in speakers])
    (root / "demo.json").write_text(json.dumps(record, indent=1))
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m glam_py.corpora.demo",
        description="Generate the synthetic four-emotion demo corpus (deterministic, no download).")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the corpus into.")
    parser.add_argument("--speakers", type=int, default=8,
                        help="number of synthetic speakers, alternating male and female (default 8).")
    parser.add_argument("--per-class", type=int, default=10,
                        help="utterances per emotion per speaker (default 10).")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed; the same seed gives byte-identical files (default 0).")
    args = parser.parse_args(argv)
    manifest = generate_demo_corpus(args.out, n_speakers=args.speakers,
                                    per_class_per_speaker=args.per_class, seed=args.seed,
                                    progress=True)
    with manifest.open(encoding="utf-8") as f:
        paths = [row["path"] for row in csv.DictReader(f)]
    minutes = sum(sf.info(manifest.parent / p).duration for p in paths) / 60
    print(f"wrote {len(paths)} utterances ({minutes:.1f} min) to {manifest.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
