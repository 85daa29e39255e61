"""What to predict, from command-line arguments: audio files, folders of
them (searched recursively) and CSV manifests.

A manifest has the corpus reader's format (``python -m glam_py.featurize
--corpus csv``): a ``path`` column relative to the manifest's folder, and
optionally ``label``, reported beside the prediction as the reference, and
``start`` and ``end`` (seconds), which make a row a segment of its file,
predicted on its own. Segments may overlap here (nothing trains on them);
:func:`overlap_note` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from glam_py.corpora.manifest import overlaps, read_csv, read_segment
from glam_py.corpora.scan import AUDIO_SUFFIXES, audio_files
from glam_py.corpora.utterance import LayoutError

__all__ = ["AudioInput", "expand", "overlap_note"]


@dataclass(frozen=True)
class AudioInput:
    """One file, or segment of one, to predict. ``error`` is set for an
    argument that gave no file at all (an empty folder), so it is reported
    like an unreadable one. ``start`` and ``end`` are a manifest row's
    seconds (both None: the whole file), ``row`` names that row in
    messages (``"manifest.csv:12"``)."""

    path: Path
    reference: str | None = None
    error: str | None = None
    start: float | None = None
    end: float | None = None
    row: str | None = None

    @property
    def segment(self) -> tuple[float, float | None] | None:
        """``(start, end)`` as the recognizer takes it, or None for the whole file."""
        if self.start is None and self.end is None:
            return None
        return (self.start or 0.0, self.end)


def _manifest(manifest: Path) -> list[AudioInput]:
    columns, rows = read_csv(manifest)
    if "path" not in columns:
        raise LayoutError(
            f"{manifest}: expected a CSV manifest with a 'path' column "
            f"(and optionally 'label'), found columns {','.join(columns) or 'none'}"
        )
    out = []
    for line, row in rows:
        where = f"{manifest}:{line}"
        if not row["path"]:
            raise LayoutError(f"{where}: empty path")
        start, end = read_segment(where, row)
        out.append(
            AudioInput(manifest.parent / row["path"], row.get("label") or None, None, start, end, where)
        )
    return out


def expand(arguments: Iterable[str | Path]) -> list[AudioInput]:
    """Every file the arguments name, in order: a folder gives its audio
    files (sorted, any depth), a ``.csv`` its manifest's rows, anything else
    itself (a missing or unreadable file is reported when it is read).
    Raises :class:`LayoutError` for a manifest without a ``path`` column or
    with a start or end that is not a number of seconds or an end not after
    its start (naming the row)."""
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


def overlap_note(inputs: Iterable[AudioInput]) -> str | None:
    """One line saying which manifest segments overlap another of the same
    file (each is predicted on its own), or None when none does."""
    found = overlaps((i.row, i.path, i.start, i.end) for i in inputs if i.row is not None)
    if not found:
        return None
    (row, other), n = found[0], len(found)
    return (
        f"{n} manifest segment{'s overlap' if n > 1 else ' overlaps'} another of the same file "
        f"(first: {row} overlaps {other}); each is predicted on its own"
    )
