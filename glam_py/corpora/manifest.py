"""CSV manifests: ``path,label[,speaker]`` with paths relative to the
manifest's folder, the format every corpus reader can produce."""

from __future__ import annotations

import csv
from pathlib import Path

from glam_py.corpora.utterance import LayoutError, Utterance


def read_manifest(manifest: str | Path) -> list[Utterance]:
    """Reads a manifest; a missing column or an empty field is an error that
    names the file and the line."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise LayoutError(f"{manifest}: manifest not found (expected a CSV with columns path,label[,speaker])")
    with manifest.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"path", "label"} - set(reader.fieldnames or [])
        if missing:
            raise LayoutError(
                f"{manifest}: expected columns path,label[,speaker], found {reader.fieldnames}")
        utterances = []
        for line, row in enumerate(reader, start=2):
            if not row["path"] or not row["label"]:
                raise LayoutError(f"{manifest}:{line}: empty path or label")
            path = manifest.parent / row["path"]
            utterances.append(Utterance(path, row["label"], row.get("speaker") or None,
                                        utterance_id=Path(row["path"]).stem))
    return utterances
