"""TESS (Toronto): ``ROOT/OAF_angry/OAF_back_angry.wav`` — speaker (OAF,
YAF), word, emotion (``ps`` is pleasant surprise)."""

from __future__ import annotations

from pathlib import Path

from glam_py.corpora.scan import scan
from glam_py.corpora.utterance import Skipped, Utterance

EMOTIONS = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happy",
    "neutral": "neutral",
    "ps": "surprise",
    "sad": "sad",
}


def read(root: Path) -> tuple[list[Utterance], list[Skipped]]:
    def parse(m, path):
        return Utterance(path, EMOTIONS[m["emotion"].lower()], f"tess{m['speaker'].upper()}", path.stem)

    return scan(
        "TESS",
        root,
        r"(?i)(?P<speaker>[OY]AF)_\w+?_(?P<emotion>angry|disgust|fear|happy|neutral|ps|sad)\.wav",
        "ROOT/<speaker>_<emotion>/<speaker>_<word>_<emotion>.wav, e.g. OAF_back_angry.wav",
        parse,
    )
