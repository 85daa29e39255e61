"""RAVDESS, speech, audio-only: ``ROOT/Actor_01/03-01-05-01-02-01-01.wav`` —
modality (03 audio-only), channel (01 speech), emotion, intensity,
statement, repetition, actor."""

from __future__ import annotations

from pathlib import Path

from glam_py.corpora.scan import scan
from glam_py.corpora.utterance import Skipped, Utterance

EMOTIONS = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fear",
    "07": "disgust",
    "08": "surprise",
}


def read(root: Path) -> tuple[list[Utterance], list[Skipped]]:
    def parse(m, path):
        if m["modality"] != "03" or m["channel"] != "01":
            return "not audio-only speech (modality 03, vocal channel 01)"
        if m["emotion"] not in EMOTIONS:
            return f"unknown emotion code {m['emotion']}"
        return Utterance(path, EMOTIONS[m["emotion"]], f"ravdess{m['actor']}", path.stem)

    return scan(
        "RAVDESS",
        root,
        r"(?P<modality>\d\d)-(?P<channel>\d\d)-(?P<emotion>\d\d)-\d\d-\d\d-\d\d-(?P<actor>\d\d)\.wav",
        "ROOT/Actor_NN/03-01-<emotion>-<intensity>-<statement>-<repetition>-<actor>.wav",
        parse,
    )
