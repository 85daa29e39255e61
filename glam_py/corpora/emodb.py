"""EmoDB (Berlin): ``ROOT/wav/03a01Fa.wav`` — speaker (2 digits), text code
(3), emotion letter (German initial), version."""

from __future__ import annotations

from pathlib import Path

from glam_py.corpora.scan import scan
from glam_py.corpora.utterance import Skipped, Utterance

EMOTIONS = {"W": "angry", "L": "bored", "E": "disgust", "A": "fear", "F": "happy", "T": "sad", "N": "neutral"}


def read(root: Path) -> tuple[list[Utterance], list[Skipped]]:
    def parse(m, path):
        return Utterance(path, EMOTIONS[m["emotion"]], f"emodb{m['speaker']}", path.stem)

    return scan(
        "EmoDB",
        root,
        r"(?P<speaker>\d\d)[a-z]\d\d(?P<emotion>[WLEAFTN])[a-z]\.wav",
        "ROOT/wav/<speaker><text><emotion><version>.wav, e.g. 03a01Fa.wav",
        parse,
        folder=root / "wav",
    )
