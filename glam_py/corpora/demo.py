"""A small synthetic emotional speech corpus, generated deterministically and
without any download, for the main job and the tests.

Each utterance is made by source-filter synthesis: a train of glottal pulses
(Rosenberg shape, with jitter and shimmer) follows an F0 contour with
declination and per-syllable accents; aspiration noise is mixed in for
breathy voices; five formants move from vowel to vowel, syllable by syllable,
with fricative and plosive noise bursts at the onsets, pauses between
phrases and a little room noise. The four emotions differ the way acted
emotions do (pitch level and range, speaking rate, vocal effort and voice
quality, articulation), drawn afresh for every utterance so the classes
overlap, and each speaker has a voice (pitch, vocal-tract length) and habits
(how much they use pitch, tempo or effort to act) of their own. The
recording gain of every utterance is random over 24 dB, so loudness alone
says little about the class.

    python -m glam_py.corpora.demo --out data/demo
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import soundfile as sf

from glam_py.lock import WriterLock

DEMO_LABELS = ("neutral", "happy", "sad", "angry")
DEMO_ROOT = Path("data/demo")  # where the commands generate and read it by default

# Bumped whenever the synthesis changes, so an old corpus is regenerated.
FORMAT_VERSION = 3
# How long a caller waits for another process generating the same corpus.
GENERATE_WAIT_S = 600.0

# F1..F5 (Hz) of an adult male vocal tract for /a i u e o/ and schwa, the
# centre that careless articulation drifts towards.
VOWELS = np.array(
    [
        [730, 1090, 2440, 3300, 3750],
        [270, 2290, 3010, 3400, 3900],
        [300, 870, 2240, 3300, 3750],
        [530, 1840, 2480, 3350, 3800],
        [570, 840, 2410, 3300, 3750],
    ],
    dtype=float,
)
SCHWA = np.array([500, 1500, 2500, 3350, 3800], dtype=float)
BANDWIDTHS = np.array([60.0, 90.0, 120.0, 180.0, 250.0])

# Consonant noise relative to the glottal source: enough for hiss and bursts
# to reach the vowels' level above 3 kHz, as in real speech.
CONSONANT_LEVEL = 4.0

FRAME = 512  # analysis window of the time-varying filter (32 ms at 16 kHz)
HOP = 128
NFFT = 1024  # zero padding leaves room for the formants' ringing


@dataclass(frozen=True)
class Consonant:
    """An unvoiced onset: a fricative hiss or a plosive's closure and burst."""

    plosive: bool
    centre: float  # Hz, for a male vocal tract
    width: float  # Hz
    gain: float


CONSONANTS = (
    Consonant(plosive=False, centre=5500.0, width=2000.0, gain=1.0),  # s
    Consonant(plosive=False, centre=3000.0, width=1000.0, gain=1.0),  # sh
    Consonant(plosive=False, centre=4000.0, width=6000.0, gain=0.35),  # f
    Consonant(plosive=True, centre=4000.0, width=2500.0, gain=1.2),  # t
    Consonant(plosive=True, centre=2000.0, width=800.0, gain=1.2),  # k
    Consonant(plosive=True, centre=900.0, width=1500.0, gain=0.9),  # p
)


@dataclass(frozen=True)
class Emotion:
    """How an emotion is acted, at full intensity. Utterances land between
    neutral and this, with noise, so the classes overlap."""

    f0_ratio: float  # pitch level relative to the speaker's habitual pitch
    f0_range: float  # mean accent height in semitones
    rate: float  # syllables per second
    level_db: float  # vocal effort, before the random recording gain
    open_quotient: float  # share of each glottal cycle the folds are open
    tilt: float  # extra spectral slope above 1 kHz in dB/octave
    breathiness: float  # aspiration noise relative to the pulses
    jitter: float  # cycle-to-cycle period perturbation (relative)
    shimmer: float  # cycle-to-cycle amplitude perturbation (relative)
    roughness: float  # alternate cycles louder and softer: the harsh voice of anger
    articulation: float  # vowel space size: below 1 drifts to schwa
    formant_shift: float  # F1/F2 scaling: a smile or a wide jaw raises them
    consonant_gain: float  # how crisply consonants are produced
    attack: float  # share of a vowel spent rising to full level
    pause_prob: float  # chance of a pause after a syllable


EMOTIONS = {
    "neutral": Emotion(
        f0_ratio=1.0,
        f0_range=2.5,
        rate=4.3,
        level_db=0.0,
        open_quotient=0.6,
        tilt=0.0,
        breathiness=0.04,
        jitter=0.008,
        shimmer=0.04,
        roughness=0.0,
        articulation=1.0,
        formant_shift=1.0,
        consonant_gain=1.0,
        attack=0.2,
        pause_prob=0.1,
    ),
    # Elated: high and lively pitch, a smile (raised formants), a bright voice.
    "happy": Emotion(
        f0_ratio=1.4,
        f0_range=9.0,
        rate=4.7,
        level_db=2.0,
        open_quotient=0.56,
        tilt=1.5,
        breathiness=0.04,
        jitter=0.008,
        shimmer=0.04,
        roughness=0.0,
        articulation=1.1,
        formant_shift=1.1,
        consonant_gain=1.0,
        attack=0.18,
        pause_prob=0.07,
    ),
    # Low arousal: low, flat pitch, slow, soft and breathy, slurred vowels.
    "sad": Emotion(
        f0_ratio=0.88,
        f0_range=1.0,
        rate=3.0,
        level_db=-4.0,
        open_quotient=0.8,
        tilt=-4.0,
        breathiness=0.26,
        jitter=0.014,
        shimmer=0.07,
        roughness=0.0,
        articulation=0.65,
        formant_shift=0.96,
        consonant_gain=0.6,
        attack=0.35,
        pause_prob=0.25,
    ),
    # Hot anger: loud, fast, pressed and harsh, with hard onsets.
    "angry": Emotion(
        f0_ratio=1.15,
        f0_range=3.5,
        rate=5.4,
        level_db=5.0,
        open_quotient=0.38,
        tilt=4.5,
        breathiness=0.02,
        jitter=0.018,
        shimmer=0.09,
        roughness=0.25,
        articulation=1.15,
        formant_shift=1.03,
        consonant_gain=1.6,
        attack=0.06,
        pause_prob=0.06,
    ),
}


@dataclass(frozen=True)
class Speaker:
    """A synthetic speaker's voice and acting habits."""

    name: str
    sex: str  # "male" or "female"
    f0: float  # habitual pitch in Hz
    vocal_tract: float  # formant scaling: shorter vocal tracts have higher formants
    rate: float  # habitual tempo multiplier
    pitch_range: float  # habitual liveliness of intonation (multiplier)
    tilt: float  # habitual voice-quality offset in dB/octave
    breathiness: float  # habitual aspiration, added to the emotion's
    pitch_habit: float  # how much this speaker acts with pitch
    tempo_habit: float  # ... with tempo
    effort_habit: float  # ... with effort and voice quality


@dataclass(frozen=True)
class Voice:
    """One utterance's settings: a speaker's rendering of an emotion (fields
    as in :class:`Emotion`, in absolute terms)."""

    f0: float
    f0_range: float
    declination: float  # semitones of fall over the utterance
    rate: float
    level_db: float
    open_quotient: float
    tilt: float
    breathiness: float
    jitter: float
    shimmer: float
    roughness: float
    articulation: float
    formant_shift: float
    consonant_gain: float
    attack: float
    pause_prob: float
    vocal_tract: float


@dataclass(frozen=True)
class Syllable:
    onset: float  # s, where the consonant (or the vowel, if none) starts
    consonant: Consonant | None
    consonant_len: float  # s
    vowel_start: float  # s
    vowel_len: float  # s
    vowel: int  # row of VOWELS
    stress: float  # accent height and loudness, 0..1


def make_speaker(index: int, seed: int) -> Speaker:
    """Speaker ``index``, from its own seed so it does not depend on how many
    speakers are made; even indices are male, odd ones female."""
    rng = np.random.default_rng([seed, 7919, index])
    female = index % 2 == 1
    return Speaker(
        name=f"spk{index:02d}",
        sex="female" if female else "male",
        f0=float(rng.uniform(175, 240) if female else rng.uniform(90, 140)),
        vocal_tract=float(rng.uniform(1.12, 1.22) if female else rng.uniform(0.93, 1.04)),
        rate=float(rng.uniform(0.85, 1.15)),
        pitch_range=float(rng.uniform(0.75, 1.3)),
        tilt=float(rng.uniform(-2.0, 2.0)),
        breathiness=float(rng.uniform(0.0, 0.05) + (0.03 if female else 0.0)),
        pitch_habit=float(rng.uniform(0.7, 1.25)),
        tempo_habit=float(rng.uniform(0.7, 1.25)),
        effort_habit=float(rng.uniform(0.7, 1.25)),
    )


def _blend(neutral: float, target: float, amount: float) -> float:
    return neutral + amount * (target - neutral)


def acting(label: str, rng: np.random.Generator) -> tuple[Emotion, float]:
    """The emotion a take leans towards and how far (0 is neutral, 1 the
    emotion as in EMOTIONS). Actors are uneven: about one emotional take in
    eight comes out subdued, and neutral takes are tinged with some other
    emotion, so the classes overlap for any model."""
    if label == "neutral":
        others = [e for e in DEMO_LABELS if e != "neutral"]
        return EMOTIONS[others[int(rng.integers(len(others)))]], rng.uniform(0.0, 0.3)
    if rng.random() < 0.12:
        return EMOTIONS[label], rng.uniform(0.15, 0.4)
    return EMOTIONS[label], rng.uniform(0.6, 1.2)


def draw_voice(label: str, speaker: Speaker, rng: np.random.Generator) -> Voice:
    """One utterance's settings: the take's acting intensity, scaled per cue
    by the speaker's habits and by chance."""
    base = EMOTIONS["neutral"]
    emotion, act = acting(label, rng)
    pitch = act * speaker.pitch_habit * rng.uniform(0.8, 1.2)
    tempo = act * speaker.tempo_habit * rng.uniform(0.8, 1.2)
    effort = act * speaker.effort_habit * rng.uniform(0.8, 1.2)
    return Voice(
        f0=speaker.f0 * _blend(1.0, emotion.f0_ratio, pitch) * rng.normal(1.0, 0.05),
        f0_range=max(
            0.3, speaker.pitch_range * _blend(base.f0_range, emotion.f0_range, pitch) * rng.normal(1.0, 0.25)
        ),
        declination=rng.uniform(1.0, 4.0),
        rate=speaker.rate * _blend(base.rate, emotion.rate, tempo) * rng.normal(1.0, 0.08),
        level_db=_blend(base.level_db, emotion.level_db, effort),
        open_quotient=float(
            np.clip(
                _blend(base.open_quotient, emotion.open_quotient, effort) + rng.normal(0.0, 0.04), 0.3, 0.9
            )
        ),
        tilt=_blend(base.tilt, emotion.tilt, effort) + speaker.tilt + rng.normal(0.0, 1.5),
        breathiness=max(
            0.0,
            _blend(base.breathiness, emotion.breathiness, effort)
            + speaker.breathiness
            + rng.normal(0.0, 0.03),
        ),
        jitter=_blend(base.jitter, emotion.jitter, effort) * rng.uniform(0.7, 1.3),
        shimmer=_blend(base.shimmer, emotion.shimmer, effort) * rng.uniform(0.7, 1.3),
        roughness=_blend(base.roughness, emotion.roughness, effort) * rng.uniform(0.5, 1.5),
        articulation=_blend(base.articulation, emotion.articulation, tempo) * rng.normal(1.0, 0.05),
        formant_shift=_blend(1.0, emotion.formant_shift, pitch) * rng.normal(1.0, 0.015),
        consonant_gain=_blend(base.consonant_gain, emotion.consonant_gain, effort) * rng.uniform(0.7, 1.3),
        attack=max(0.03, _blend(base.attack, emotion.attack, effort)),
        pause_prob=_blend(base.pause_prob, emotion.pause_prob, tempo),
        vocal_tract=speaker.vocal_tract,
    )


def _speech_length(rng: np.random.Generator) -> float:
    # About a fifth of the utterances are shorter than the model's 2 s window;
    # drawn in seconds, not syllables, so duration says little about the class.
    if rng.random() < 0.22:
        return float(rng.uniform(1.0, 1.6))
    return float(rng.uniform(1.9, 5.4))


def plan_syllables(voice: Voice, speech_len: float, rng: np.random.Generator) -> list[Syllable]:
    """Syllables at the voice's rate, starting after a short lead silence and
    ending before ``speech_len``."""
    out: list[Syllable] = []
    t = rng.uniform(0.08, 0.2)
    while True:
        length = rng.uniform(0.7, 1.3) / voice.rate
        stress = rng.uniform(0.5, 1.0) if rng.random() < 0.45 else rng.uniform(0.0, 0.25)
        length *= 1.0 + 0.3 * stress  # stressed syllables are longer
        if t + length > speech_len and out:
            return out
        consonant, consonant_len = None, 0.0
        if rng.random() < 0.75:
            consonant = CONSONANTS[int(rng.integers(len(CONSONANTS)))]
            consonant_len = min(
                0.4 * length, rng.uniform(0.05, 0.1) if not consonant.plosive else rng.uniform(0.04, 0.07)
            )
        out.append(
            Syllable(
                t,
                consonant,
                consonant_len,
                t + consonant_len,
                length - consonant_len,
                int(rng.integers(len(VOWELS))),
                stress,
            )
        )
        t += length
        if rng.random() < voice.pause_prob:
            t += rng.uniform(0.1, 0.35)


def f0_contour(
    voice: Voice, syllables: list[Syllable], n: int, sr: int, rng: np.random.Generator
) -> np.ndarray:
    """Hz per sample: declination, a pitch target at each vowel's centre
    (high on stressed syllables, sometimes a dip) joined by smooth glides,
    and a slow random drift."""
    t = np.arange(n) / sr
    centres = np.array([s.vowel_start + 0.5 * s.vowel_len for s in syllables])
    heights = np.array([s.stress * (1.0 if rng.random() < 0.8 else -0.6) for s in syllables])
    targets = voice.f0_range * (heights - heights.mean())
    # Cosine interpolation between targets: glides without corners.
    position = np.interp(t, centres, np.arange(len(centres)))
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, len(centres) - 1)
    blend = 0.5 - 0.5 * np.cos(np.pi * (position - below))
    semitones = targets[below] + blend * (targets[above] - targets[below])
    semitones -= voice.declination * t / t[-1]
    drift = np.cumsum(rng.normal(0.0, 1.0, n // HOP + 2)) * 0.08  # semitones, slow wander
    semitones += np.interp(t, np.arange(len(drift)) * HOP / sr, drift - drift.mean())
    return voice.f0 * 2.0 ** (semitones / 12.0)


def _per_cycle(phase: np.ndarray, spread: float, rng: np.random.Generator) -> np.ndarray:
    """A factor 1 + N(0, spread) that is constant within each glottal cycle."""
    cycles = phase.astype(np.int64)
    return 1.0 + spread * np.clip(rng.standard_normal(cycles[-1] + 1), -3, 3)[cycles]


def glottal_source(f0: np.ndarray, voice: Voice, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Differentiated Rosenberg glottal flow (the derivative stands in for lip
    radiation) with jitter, shimmer and flow-synchronous aspiration noise.
    A small open quotient closes the folds abruptly: more high frequencies,
    the pressed voice of anger; a large one gives the soft, breathy voice of
    sadness."""
    nominal = np.cumsum(f0 / sr)
    phase = np.cumsum(f0 * _per_cycle(nominal, voice.jitter, rng) / sr)
    frac = phase % 1.0
    opening = voice.open_quotient * 0.65
    closing = voice.open_quotient - opening
    flow = np.where(
        frac < opening,
        0.5 * (1.0 - np.cos(np.pi * frac / opening)),
        np.where(frac < voice.open_quotient, np.cos(0.5 * np.pi * (frac - opening) / closing), 0.0),
    )
    # Roughness alternates strong and weak cycles, which adds subharmonics.
    alternate = 1.0 - voice.roughness * (phase.astype(np.int64) % 2)
    shimmer = _per_cycle(phase, voice.shimmer, rng)
    pulses = np.diff(flow, prepend=0.0) * sr / voice.f0 * shimmer * alternate
    # Turbulence grows with the airflow; the factor puts a breathiness of 0.25
    # at about the level of the pulses.
    aspiration = rng.standard_normal(len(f0)) * (0.3 + flow) * voice.breathiness * 4.0
    return pulses + aspiration


def _rise_fall(length: int, attack: float) -> np.ndarray:
    """A vowel's loudness: a raised-cosine rise over ``attack`` of it, then a
    slow fall and a short release."""
    x = np.linspace(0.0, 1.0, length, endpoint=False)
    rise = 0.5 - 0.5 * np.cos(np.pi * np.clip(x / attack, 0.0, 1.0))
    release = np.clip((1.0 - x) / 0.15, 0.0, 1.0)
    return rise * release * (1.0 - 0.3 * x)


def envelopes(
    voice: Voice, syllables: list[Syllable], n: int, sr: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per sample: the voicing gain and the consonant-noise gain."""
    voiced, noise = np.zeros(n), np.zeros(n)
    for s in syllables:
        start = int(s.vowel_start * sr)
        length = int(s.vowel_len * sr)
        voiced[start : start + length] = (0.6 + 0.4 * s.stress) * _rise_fall(length, voice.attack)
        if s.consonant is None:
            continue
        c_start, c_len = int(s.onset * sr), int(s.consonant_len * sr)
        gain = voice.consonant_gain * s.consonant.gain * rng.uniform(0.6, 1.0)
        if s.consonant.plosive:
            # Silence while the mouth is closed, then a short decaying burst.
            burst = min(c_len, int(rng.uniform(0.012, 0.025) * sr))
            decay = np.exp(-np.arange(burst) / (0.3 * burst))
            noise[start - burst : start] = gain * decay
        else:
            noise[c_start : c_start + c_len] = gain * np.sin(np.pi * np.arange(c_len) / c_len) ** 0.5
    return voiced, noise


def _frame_times(n_frames: int, pad: int, sr: int) -> np.ndarray:
    """Centre of each analysis frame in seconds."""
    return (np.arange(n_frames) * HOP + FRAME / 2 - pad) / sr


def formant_tracks(voice: Voice, syllables: list[Syllable], times: np.ndarray) -> np.ndarray:
    """(frames, 5) formant frequencies: each syllable's vowel target, held
    through its consonant and the following pause, gliding between targets."""
    targets = np.tile(SCHWA, (len(times), 1))
    for s in syllables:
        targets[times >= s.onset] = VOWELS[s.vowel]
    targets = SCHWA + voice.articulation * (targets - SCHWA)
    kernel = np.hanning(7) / np.hanning(7).sum()  # about 40 ms of coarticulation
    padded = np.pad(targets, ((3, 3), (0, 0)), mode="edge")
    smooth = np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(5)], axis=1)
    smooth[:, :2] *= voice.formant_shift
    return smooth * voice.vocal_tract


def vocal_tract_gain(freqs: np.ndarray, formants: np.ndarray, bandwidths: np.ndarray, sr: int) -> np.ndarray:
    """|H| per frame and frequency of a cascade of digital resonators, each
    normalised to unit gain at 0 Hz (as in a Klatt cascade synthesiser), so
    the formant levels follow from their frequencies as in real vowels."""
    w = 2 * np.pi * freqs / sr
    cos_w, sin_w = np.cos(w)[None, :], np.sin(w)[None, :]
    squared = np.ones((len(formants), len(freqs)))
    for fc, bw in zip(formants.T, bandwidths):
        theta = (2 * np.pi * fc / sr)[:, None]
        r = np.exp(-np.pi * bw / sr)
        # |(1 - r e^{i(theta-w)})(1 - r e^{-i(theta+w)})|^2, expanded so that
        # no cosine is taken over the whole (frames, bins) grid.
        a = 1 + r**2 - 2 * r * np.cos(theta) * cos_w
        c = 2 * r * np.sin(theta) * sin_w
        at_dc = (1 + r**2 - 2 * r * np.cos(theta)) ** 2
        squared *= at_dc / (a**2 - c**2)
    return np.sqrt(squared)


def consonant_shapes(
    syllables: list[Syllable], times: np.ndarray, freqs: np.ndarray, voice: Voice, sr: int
) -> np.ndarray:
    """(frames, bins) spectral shape of the consonant noise around each onset."""
    shapes = np.zeros((len(times), len(freqs)))
    reach = FRAME / 2 / sr + 0.01
    for s in syllables:
        if s.consonant is None:
            continue
        near = (times > s.onset - reach) & (times < s.vowel_start + reach)
        centre = s.consonant.centre * voice.vocal_tract
        shapes[near] = np.exp(-0.5 * ((freqs - centre) / s.consonant.width) ** 2) + 0.005
    return shapes


def _tilt_gain(freqs: np.ndarray, tilt: float) -> np.ndarray:
    octaves = np.log2(np.maximum(freqs, 1000.0) / 1000.0)
    return 10 ** (tilt * octaves / 20.0)


def _frames(x: np.ndarray, n_frames: int, pad: int) -> np.ndarray:
    """Hann-windowed frames of FRAME samples every HOP, ``pad`` zeros first so
    the first samples are covered by as many windows as the rest."""
    padded = np.concatenate([np.zeros(pad), x, np.zeros(n_frames * HOP + FRAME)])
    idx = np.arange(n_frames)[:, None] * HOP + np.arange(FRAME)[None, :]
    return padded[idx] * np.hanning(FRAME + 1)[:-1]


def _overlap_add(frames: np.ndarray, n: int, pad: int) -> np.ndarray:
    """Sums frames of NFFT samples at HOP; the Hann analysis windows at a
    quarter-frame hop add up to 2, which is divided out."""
    out = np.zeros((len(frames) + NFFT // HOP) * HOP)
    step = NFFT // HOP
    for k in range(step):
        chunk = frames[k::step].reshape(-1)
        out[k * HOP : k * HOP + len(chunk)] += chunk
    return out[pad : pad + n] / 2.0


def room_noise(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise falling 3 dB per octave, like a quiet room."""
    size = 1 << int(np.ceil(np.log2(n)))  # a power of two keeps the FFT fast
    spectrum = np.fft.rfft(rng.standard_normal(size))
    spectrum /= np.sqrt(np.maximum(np.fft.rfftfreq(size, 1.0 / sr), 50.0) / 50.0)
    noise = np.fft.irfft(spectrum, size)[:n]
    return noise / np.sqrt(np.mean(noise**2))


def articulate(
    source: np.ndarray, hiss: np.ndarray, voice: Voice, syllables: list[Syllable], sr: int
) -> np.ndarray:
    """Filters the glottal source through the moving formants and the voice's
    tilt, and the consonant noise through its own spectra, frame by frame in
    the FFT domain (a per-sample resonator loop would be far slower)."""
    pad = FRAME - HOP
    n_frames = (len(source) + pad) // HOP + 1
    times = _frame_times(n_frames, pad, sr)
    freqs = np.fft.rfftfreq(NFFT, 1.0 / sr)
    # Breathy phonation leaves the glottis partly open, which damps F1 most.
    bandwidths = BANDWIDTHS * (1.0 + voice.breathiness * np.array([4.0, 2.0, 1.0, 1.0, 1.0]))
    tract = vocal_tract_gain(freqs, formant_tracks(voice, syllables, times), bandwidths, sr)
    spectrum = np.fft.rfft(_frames(source, n_frames, pad), NFFT, axis=1) * tract
    spectrum *= _tilt_gain(freqs, voice.tilt)
    hiss_shapes = consonant_shapes(syllables, times, freqs, voice, sr) * CONSONANT_LEVEL
    spectrum += np.fft.rfft(_frames(hiss, n_frames, pad), NFFT, axis=1) * hiss_shapes
    return _overlap_add(np.fft.irfft(spectrum, NFFT, axis=1), len(source), pad)


def synthesize(label: str, speaker: Speaker, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One utterance of ``speaker`` acting ``label``, as float samples in [-1, 1]."""
    voice = draw_voice(label, speaker, rng)
    syllables = plan_syllables(voice, _speech_length(rng), rng)
    end = syllables[-1].vowel_start + syllables[-1].vowel_len + rng.uniform(0.08, 0.25)
    n = int(np.clip(end, 1.5, 6.0) * sr)
    f0 = f0_contour(voice, syllables, n, sr, rng)
    voiced_env, noise_env = envelopes(voice, syllables, n, sr, rng)
    source = glottal_source(f0, voice, sr, rng) * voiced_env
    hiss = rng.standard_normal(n) * noise_env
    return record(articulate(source, hiss, voice, syllables, sr), voice, sr, rng)


def record(speech: np.ndarray, voice: Voice, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Adds room noise and applies a random recording gain wide enough that
    the emotions' loudness ranges overlap; a peak limit stands in for the
    engineer who turns the gain down before it clips."""
    rms = np.sqrt(np.mean(speech**2)) + 1e-12
    snr_db = rng.uniform(30.0, 45.0)
    y = speech / rms + room_noise(len(speech), sr, rng) * 10 ** (-snr_db / 20)
    level_db = -30.0 + voice.level_db + rng.uniform(-12.0, 12.0)
    y *= 10 ** (level_db / 20)
    peak = np.max(np.abs(y))
    return y * min(1.0, 0.89 / peak)


def _to_pcm16(y: np.ndarray) -> np.ndarray:
    # Quantised here, not by libsndfile, so the bytes do not depend on its version.
    return np.clip(np.round(y * 32767.0), -32768, 32767).astype(np.int16)


def _settings(n_speakers: int, per_class_per_speaker: int, seed: int, sample_rate: int) -> dict:
    return dict(
        format=FORMAT_VERSION,
        n_speakers=n_speakers,
        per_class_per_speaker=per_class_per_speaker,
        seed=seed,
        sample_rate=sample_rate,
        labels=list(DEMO_LABELS),
    )


def _recorded(root: Path) -> dict:
    try:
        return json.loads((root / "demo.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _complete(root: Path, settings: dict) -> bool:
    recorded = _recorded(root)
    return (
        recorded.get("settings") == settings
        and (root / "manifest.csv").is_file()
        and all((root / p).is_file() for p in recorded.get("files", []))
    )


def _remove_stale(root: Path, old_files: Iterable[str], new_files: Iterable[str]) -> None:
    # Only files an earlier generation recorded, never anything else in root.
    for rel in set(old_files) - set(new_files):
        (root / rel).unlink(missing_ok=True)


def _jobs(n_speakers: int, per_class_per_speaker: int) -> list[tuple[int, int, int]]:
    return [
        (si, ci, k)
        for si in range(n_speakers)
        for ci in range(len(DEMO_LABELS))
        for k in range(per_class_per_speaker)
    ]


def generate_demo_corpus(
    root: str | Path,
    *,
    n_speakers: int = 8,
    per_class_per_speaker: int = 10,
    seed: int = 0,
    sample_rate: int = 16000,
    progress: bool = False,
) -> Path:
    """Writes the corpus under ``root`` (16-bit WAV files in ``root/wav`` named
    like ``spk03_angry_007.wav``, ``root/manifest.csv`` with columns
    path,label,speaker, and ``root/demo.json`` recording the parameters) and
    returns the manifest's path. Does nothing when ``root`` already holds a
    complete corpus made with the same parameters. The same parameters give
    byte-identical files.

    Safe against concurrent callers (a training and a featurisation started
    together): one generates under the folder's :class:`~glam_py.lock.WriterLock`,
    the others wait for it (up to ``GENERATE_WAIT_S``) and then find the
    corpus complete. A complete corpus is used without taking the lock, so
    it may sit on a read-only disk."""
    if n_speakers < 1 or per_class_per_speaker < 1:
        raise ValueError("n_speakers and per_class_per_speaker must be at least 1")
    if sample_rate < 16000:
        raise ValueError(f"sample_rate must be at least 16000 (the voices reach 8 kHz), got {sample_rate}")
    root = Path(root)
    settings = _settings(n_speakers, per_class_per_speaker, seed, sample_rate)
    if not _complete(root, settings):
        with WriterLock(root, "demo corpus", wait_s=GENERATE_WAIT_S):
            _generate(root, settings, progress)
    return root / "manifest.csv"


def _generate(root: Path, settings: dict, progress: bool) -> None:
    manifest = root / "manifest.csv"
    if _complete(root, settings):  # made by the process that held the lock before
        return
    old_files = _recorded(root).get("files", [])
    # Gone until the new corpus is complete, so an interrupted run is redone.
    (root / "demo.json").unlink(missing_ok=True)
    (root / "wav").mkdir(parents=True, exist_ok=True)
    seed, sample_rate = settings["seed"], settings["sample_rate"]
    speakers = [make_speaker(i, seed) for i in range(settings["n_speakers"])]
    jobs = _jobs(settings["n_speakers"], settings["per_class_per_speaker"])
    if progress:
        from tqdm import tqdm

        jobs = tqdm(jobs, desc="generating demo corpus", unit="utt")
    rows = []
    for si, ci, k in jobs:
        # Seeded per utterance, so no file depends on the order of generation.
        rng = np.random.default_rng([seed, si, ci, k])
        label, speaker = DEMO_LABELS[ci], speakers[si]
        rel = f"wav/{speaker.name}_{label}_{k:03d}.wav"
        sf.write(
            root / rel, _to_pcm16(synthesize(label, speaker, sample_rate, rng)), sample_rate, subtype="PCM_16"
        )
        rows.append((rel, label, speaker.name))
    with manifest.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["path", "label", "speaker"])
        writer.writerows(rows)
    files = [r[0] for r in rows]
    _remove_stale(root, old_files, files)
    record = dict(settings=settings, files=files, speakers=[asdict(s) for s in speakers])
    (root / "demo.json").write_text(json.dumps(record, indent=1), encoding="utf-8")


def _summary(manifest: Path) -> tuple[int, float]:
    """Number of utterances and total minutes of audio."""
    with manifest.open(newline="", encoding="utf-8") as f:
        paths = [row["path"] for row in csv.DictReader(f)]
    return len(paths), sum(sf.info(manifest.parent / p).duration for p in paths) / 60.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m glam_py.corpora.demo",
        description="Generate the synthetic four-emotion demo corpus (neutral, happy, sad, angry): "
        "deterministic, no download. Writes DIR/wav/*.wav (16-bit mono), "
        "DIR/manifest.csv (path,label,speaker) and DIR/demo.json; does nothing if DIR "
        "already holds the corpus for the same options.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder to write the corpus into (created if missing).",
    )
    parser.add_argument(
        "--speakers",
        type=int,
        default=8,
        metavar="N",
        help="number of synthetic speakers, alternating male and female (default 8).",
    )
    parser.add_argument(
        "--per-class",
        type=int,
        default=10,
        metavar="N",
        help="utterances per emotion per speaker (default 10, so 320 in all).",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="random seed; the same options give byte-identical files (default 0).",
    )
    parser.add_argument(
        "--sample-rate",
        type=int,
        default=16000,
        metavar="HZ",
        help="sample rate of the WAV files, at least 16000 (default 16000).",
    )
    args = parser.parse_args(argv)
    try:
        manifest = generate_demo_corpus(
            args.out,
            n_speakers=args.speakers,
            per_class_per_speaker=args.per_class,
            seed=args.seed,
            sample_rate=args.sample_rate,
            progress=True,
        )
    except ValueError as e:
        parser.error(str(e))
    count, minutes = _summary(manifest)
    print(
        f"demo corpus in {manifest.parent}: {count} utterances, {minutes:.1f} min of audio "
        f"(manifest {manifest})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
