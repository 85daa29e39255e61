"""Any corpus laid out as one folder per label: ``ROOT/<label>/*.wav``."""

from __future__ import annotations

from pathlib import Path

from glam_py.corpora.scan import audio_files
from glam_py.corpora.utterance import LayoutError, Skipped, Utterance, listing


def read(root: Path) -> tuple[list[Utterance], list[Skipped]]:
    utterances = (
        [
            Utterance(path, folder.name, None, path.stem)
            for folder in sorted(p for p in root.iterdir() if p.is_dir())
            for path in audio_files(folder)
        ]
        if root.is_dir()
        else []
    )
    if not utterances:
        raise LayoutError(
            f"folders: expected ROOT/<label>/<file>.wav; found no audio in a label folder: {listing(root)}"
        )
    return utterances, []
