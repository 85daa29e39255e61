"""CSV manifests: ``path,label[,speaker]`` with paths relative to the
manifest's folder, the format every corpus reader can produce."""

from __future__ import annotations

import csv
from pathlib import Path

from glam_py.corpora.utterance import LayoutError, Utterance


def read_manifest(
    manifest: str | Path, path_column: str = "path", label_column: str = "label"
) -> list[Utterance]:
    """Reads a manifest.

    Parameters
    ----------
    manifest : str or Path
        The CSV file; paths in it are relative to its folder.
    path_column, label_column : str, default "path", "label"
        The columns of the audio paths and of the labels (EmoDB's own
        manifest calls its label column ``emotion``). A ``speaker`` column
        is read when present.

    Raises
    ------
    LayoutError
        The file is missing, lacks a column, or has an empty field; the
        message names the file (and the line).
    """
    manifest = Path(manifest)
    expected = f"columns {path_column},{label_column}[,speaker]"
    if not manifest.is_file():
        raise LayoutError(f"{manifest}: manifest not found (expected a CSV with {expected})")
    with manifest.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in (path_column, label_column) if c not in (reader.fieldnames or [])]
        if missing:
            found = ",".join(reader.fieldnames or []) or "no header"
            raise LayoutError(
                f"{manifest}: no column {' or '.join(missing)} (expected {expected}, "
                f"found {found}; --path-column and --label-column name others)"
            )
        utterances = []
        for line, row in enumerate(reader, start=2):
            if not row[path_column] or not row[label_column]:
                raise LayoutError(f"{manifest}:{line}: empty {path_column} or {label_column}")
            path = manifest.parent / row[path_column]
            utterances.append(
                Utterance(
                    path,
                    row[label_column],
                    row.get("speaker") or None,
                    utterance_id=Path(row[path_column]).stem,
                )
            )
    return utterances
