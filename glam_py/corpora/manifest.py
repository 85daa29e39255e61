"""CSV manifests: ``path,label[,speaker]`` with paths relative to the
manifest's folder, the format every corpus reader can produce."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Utterance:
    path: Path
    label: str
    speaker: str | None = None


def read_manifest(manifest: str | Path) -> list[Utterance]:
    """Reads a manifest; a missing column or an empty field is an error that
    names the file and the line."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest}: manifest not found")
    with manifest.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"path", "label"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(
                f"{manifest}: expected columns path,label[,speaker], found {reader.fieldnames}"
            )
        utterances = []
        for line, row in enumerate(reader, start=2):
            if not row["path"] or not row["label"]:
                raise ValueError(f"{manifest}:{line}: empty path or label")
            utterances.append(
                Utterance(manifest.parent / row["path"], row["label"], row.get("speaker") or None)
            )
    return utterances
