"""CREMA-D: ``ROOT/AudioWAV/1001_DFA_ANG_XX.wav`` — actor, sentence,
emotion, level."""

from __future__ import annotations

from pathlib import Path

from glam_py.corpora.scan import scan
from glam_py.corpora.utterance import Skipped, Utterance

EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}


def read(root: Path) -> tuple[list[Utterance], list[Skipped]]:
    folder = root / "AudioWAV" if (root / "AudioWAV").is_dir() else root

    def parse(m, path):
        return Utterance(path, EMOTIONS[m["emotion"]], f"cremad{m['actor']}", path.stem)

    return scan(
        "CREMA-D",
        root,
        r"(?P<actor>\d{4})_[A-Z]{3}_(?P<emotion>ANG|DIS|FEA|HAP|NEU|SAD)_[A-Z]{2}\.wav",
        "ROOT/AudioWAV/<actor>_<sentence>_<emotion>_<level>.wav, e.g. 1001_DFA_ANG_XX.wav",
        parse,
        folder=folder,
    )
