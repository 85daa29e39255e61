"""What every corpus reader returns."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path


class LayoutError(ValueError):
    """A corpus folder does not look like the corpus: says what was expected
    and what was found."""


@dataclass(frozen=True, slots=True)
class Utterance:
    """One labelled recording of a corpus listing.

    A listing holds one of these per file for the whole run, so it is kept
    small: the path as a string (a ``Path`` per file doubled a 100,000-file
    listing) and the label and speaker interned, being shared by many files.

    Parameters
    ----------
    file : str or Path
        The recording; :attr:`path` gives it as a ``Path``.
    label : str
        The emotion label, as the corpus names it (before any label map).
    speaker, utterance_id, session, subset : str, optional
        What the corpus tells of the recording, where it does.
    start, end : float, optional
        The part of the file that is the utterance, in seconds (a segment
        of a long recording; ``end`` None: to the end of the file); both
        None: the whole file.
    """

    file: str
    label: str
    speaker: str | None = None
    utterance_id: str = ""
    session: str | None = None
    subset: str | None = None
    start: float | None = None
    end: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "file", os.fspath(self.file))
        object.__setattr__(self, "label", sys.intern(self.label))
        if self.speaker is not None:
            object.__setattr__(self, "speaker", sys.intern(self.speaker))

    @property
    def path(self) -> Path:
        return Path(self.file)

    @property
    def segment(self) -> tuple[float, float | None] | None:
        """``(start, end)`` seconds as the feature frontend takes them, or
        None for the whole file."""
        if self.start is None and self.end is None:
            return None
        return (self.start or 0.0, self.end)


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


def listing(folder: Path, limit: int = 8) -> str:
    """A short description of what a folder holds, for layout errors."""
    if not folder.exists():
        return f"{folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    if not names:
        return f"{folder} is empty"
    more = f", ... ({len(names)} entries)" if len(names) > limit else ""
    return f"{folder} holds " + ", ".join(names[:limit]) + more
