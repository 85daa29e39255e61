"""SAVEE (Surrey): ``ROOT/AudioData/DC/a01.wav`` (speaker folders DC, JE,
JK, KL) or the flat ``ROOT/DC_a01.wav``; the letters before the number are
the emotion (``sa`` sadness, ``su`` surprise)."""

from __future__ import annotations

from pathlib import Path

from glam_py.corpora.scan import scan
from glam_py.corpora.utterance import Skipped, Utterance

EMOTIONS = {
    "a": "angry",
    "d": "disgust",
    "f": "fear",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprise",
}
SPEAKERS = ("DC", "JE", "JK", "KL")


def read(root: Path) -> tuple[list[Utterance], list[Skipped]]:
    def parse(m, path):
        speaker = m["speaker"] or path.parent.name
        if speaker not in SPEAKERS:
            return f"speaker {speaker!r} is not one of {', '.join(SPEAKERS)}"
        utterance_id = path.stem if m["speaker"] else f"{speaker}_{path.stem}"
        return Utterance(path, EMOTIONS[m["emotion"]], f"savee{speaker}", utterance_id)

    return scan(
        "SAVEE",
        root,
        r"(?:(?P<speaker>DC|JE|JK|KL)_)?(?P<emotion>sa|su|a|d|f|h|n)\d\d\.wav",
        "ROOT/AudioData/<speaker>/<emotion><nn>.wav or ROOT/<speaker>_<emotion><nn>.wav, "
        "speakers DC, JE, JK, KL",
        parse,
    )
