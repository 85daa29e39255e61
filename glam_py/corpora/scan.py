"""The shared part of the corpora whose labels live in file names: find
the audio files, parse each name, skip (with the reason) the ones that do
not follow the convention, and refuse a tree with none that do."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from glam_py.corpora.utterance import LayoutError, Skipped, Utterance, listing

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff"}


def audio_files(folder: Path, recursive: bool = True) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())


def scan(
    corpus: str,
    root: Path,
    pattern: str,
    expected: str,
    parse: Callable[[re.Match, Path], Utterance | str],
    folder: Path | None = None,
) -> tuple[list[Utterance], list[Skipped]]:
    """``parse`` turns a name that matches ``pattern`` into an utterance, or
    into a string saying why it is left out."""
    folder = folder or root
    files = audio_files(folder)
    regex = re.compile(pattern)
    utterances, skipped = [], []
    for path in files:
        match = regex.fullmatch(path.name)
        result = parse(match, path) if match else f"name does not follow the {corpus} convention"
        if isinstance(result, str):
            skipped.append(Skipped(path, result))
        else:
            utterances.append(result)
    if not utterances:
        raise LayoutError(f"{corpus}: expected {expected}; found no such file: {listing(folder)}")
    return utterances, skipped
