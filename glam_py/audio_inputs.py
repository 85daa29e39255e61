"""What to predict, from command-line arguments: audio files, folders of
them (searched recursively) and CSV manifests.

A manifest has the corpus reader's format (``python -m glam_py.featurize
--corpus csv``): a ``path`` column relative to the manifest's folder, and
optionally ``label``, reported beside the prediction as the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from glam_py.corpora.manifest import read_csv
from glam_py.corpora.scan import AUDIO_SUFFIXES, audio_files
from glam_py.corpora.utterance import LayoutError

__all__ = ["AudioInput", "expand"]


@dataclass(frozen=True)
class AudioInput:
    """One file to predict. ``error`` is set for an argument that gave no
    file at all (an empty folder), so it is reported like an unreadable one."""

    path: Path
    reference: str | None = None
    error: str | None = None


def _manifest(manifest: Path) -> list[AudioInput]:
    columns, rows = read_csv(manifest)
    if "path" not in columns:
        raise LayoutError(
            f"{manifest}: expected a CSV manifest with a 'path' column "
            f"(and optionally 'label'), found columns {','.join(columns) or 'none'}"
        )
    out = []
    for line, row in rows:
        if not row["path"]:
            raise LayoutError(f"{manifest}:{line}: empty path")
        out.append(AudioInput(manifest.parent / row["path"], row.get("label") or None))
    return out


def expand(arguments: Iterable[str | Path]) -> list[AudioInput]:
    """Every file the arguments name, in order: a folder gives its audio
    files (sorted, any depth), a ``.csv`` its manifest's rows, anything else
    itself (a missing or unreadable file is reported when it is read).
    Raises :class:`LayoutError` for a manifest without a ``path`` column."""
    out: list[AudioInput] = []
    for argument in map(Path, arguments):
        if argument.is_dir():
            found = audio_files(argument)
            out += [AudioInput(p) for p in found] or [
                AudioInput(
                    argument,
                    error=f"{argument}: no audio files ({', '.join(sorted(AUDIO_SUFFIXES))}) in this folder",
                )
            ]
        elif argument.suffix.lower() == ".csv" and argument.is_file():
            out += _manifest(argument)
        else:
            out.append(AudioInput(argument))
    return out
