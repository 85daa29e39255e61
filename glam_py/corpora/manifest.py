"""CSV manifests: ``path,label[,speaker]`` with paths relative to the
manifest's folder, the format every corpus reader can produce."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from glam_py.corpora.utterance import LayoutError, Utterance


def read_csv(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and the rows of a CSV file a user wrote, each row with its
    line number: UTF-8, with or without the byte-order mark that
    spreadsheet programs put first (else its first column would be named
    ``\ufeffpath`` and not be found).

    Raises
    ------
    LayoutError
        The file is not UTF-8 text or not CSV; the message names the file
        and the line.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise LayoutError(
            f"{path}:{line}: not UTF-8 text (byte 0x{e.object[e.start]:02x}); save the file as UTF-8"
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return list(reader.fieldnames or []), [(reader.line_num, row) for row in reader]
    except csv.Error as e:
        # line_num counts the lines of the rows read whole, not the failing one's.
        raise LayoutError(f"{path}:{reader.line_num + 1}: not a CSV row ({e})") from None


def read_manifest(
    manifest: str | Path,
    path_column: str = "path",
    label_column: str = "label",
    speaker_column: str | None = None,
) -> list[Utterance]:
    """Reads a manifest.

    Parameters
    ----------
    manifest : str or Path
        The CSV file; paths in it are relative to its folder.
    path_column, label_column : str, default "path", "label"
        The columns of the audio paths and of the labels (EmoDB's own
        manifest calls its label column ``emotion``).
    speaker_column : str, optional
        The column of speakers; default ``speaker``, read when present.

    Raises
    ------
    LayoutError
        The file is missing, not UTF-8 CSV, lacks a column, or has an
        empty field; the message names the file (and the line).
    """
    manifest = Path(manifest)
    speaker = speaker_column or "speaker"
    expected = f"columns {path_column},{label_column}" + (
        f",{speaker}" if speaker_column else f"[,{speaker}]"
    )
    if not manifest.is_file():
        raise LayoutError(f"{manifest}: manifest not found (expected a CSV with {expected})")
    columns, rows = read_csv(manifest)
    missing = [c for c in (path_column, label_column, speaker_column) if c and c not in columns]
    if missing:
        found = ",".join(columns) or "no header"
        raise LayoutError(
            f"{manifest}: no column {' or '.join(missing)} (expected {expected}, "
            f"found {found}; --path-column, --label-column and --speaker-column name others)"
        )
    utterances = []
    for line, row in rows:
        if not row[path_column] or not row[label_column]:
            raise LayoutError(f"{manifest}:{line}: empty {path_column} or {label_column}")
        path = manifest.parent / row[path_column]
        utterances.append(
            Utterance(
                path,
                row[label_column],
                row.get(speaker) or None,
                utterance_id=Path(row[path_column]).stem,
            )
        )
    return utterances
