"""IEMOCAP release 1.0: audio in
``Session{1..5}/sentences/wav/<dialog>/<utterance>.wav``, one label per
utterance in ``Session{n}/dialog/EmoEvaluation/<dialog>.txt`` on lines like
``[6.2 - 8.2]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5, 2.5, 2.5]``.
The letter opening the utterance's last part is its speaker's sex, so a
speaker is session + letter (10 in all)."""

from __future__ import annotations

import re
from pathlib import Path

from glam_py.corpora.utterance import LayoutError, Skipped, Utterance, listing

CODES = {
    "neu": "neutral",
    "hap": "happy",
    "exc": "excited",
    "sad": "sad",
    "ang": "angry",
    "fru": "frustrated",
    "sur": "surprise",
    "fea": "fear",
    "dis": "disgust",
    "oth": "other",
    "xxx": "no agreement",
}
SUBSETS = ("impro", "script", "full")
_LINE = re.compile(r"^\[[\d.]+ - [\d.]+\]\t(?P<utt>Ses\d\d[MF]_\S+_(?P<sex>[MF])\d+)\t(?P<code>\w+)\t\[")


def _sessions(root: Path) -> list[Path]:
    sessions = sorted(p for p in root.glob("Session[1-5]") if p.is_dir())
    if not sessions:
        raise LayoutError(f"IEMOCAP: expected ROOT/Session1 ... ROOT/Session5; found {listing(root)}")
    return sessions


def _labels(session: Path) -> list[tuple[str, str, str]]:
    """(utterance id, sex letter, code) from every evaluation file."""
    folder = session / "dialog" / "EmoEvaluation"
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise LayoutError(f"IEMOCAP: expected label files {folder}/<dialog>.txt; found {listing(folder)}")
    out = []
    for file in files:
        for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
            m = _LINE.match(line)
            if m:
                out.append((m["utt"], m["sex"], m["code"]))
    return out


def read(root: Path, subset: str = "full") -> tuple[list[Utterance], list[Skipped]]:
    if subset not in SUBSETS:
        raise ValueError(f"IEMOCAP subset must be one of {', '.join(SUBSETS)}, got {subset!r}")
    utterances, skipped = [], []
    for session in _sessions(root):
        number = int(session.name[-1])
        for utt, sex, code in _labels(session):
            dialog = utt.rsplit("_", 1)[0]
            kind = "impro" if "impro" in dialog else "script"
            path = session / "sentences" / "wav" / dialog / f"{utt}.wav"
            if subset != "full" and kind != subset:
                continue
            if not path.is_file():
                skipped.append(Skipped(path, "labelled in EmoEvaluation but the audio file is missing"))
                continue
            label = CODES.get(code, code)
            utterances.append(
                Utterance(path, label, f"Ses{number:02d}{sex}", utt, session=session.name, subset=kind)
            )
    if not utterances:
        raise LayoutError(
            f"IEMOCAP: no labelled utterance with audio under {root} "
            f"(subset {subset}); expected Session<n>/sentences/wav/<dialog>/<utt>.wav"
        )
    return utterances, skipped
