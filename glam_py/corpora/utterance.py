"""What every corpus reader returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class LayoutError(ValueError):
    """A corpus folder does not look like the corpus: says what was expected
    and what was found."""


@dataclass(frozen=True)
class Utterance:
    path: Path
    label: str
    speaker: str | None = None
    utterance_id: str = ""
    session: str | None = None
    subset: str | None = None


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
