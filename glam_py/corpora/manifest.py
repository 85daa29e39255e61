"""CSV manifests: ``path,label[,speaker][,start,end]`` with paths relative
to the manifest's folder, the format every corpus reader can produce.
``start`` and ``end`` (seconds) make a row a segment of its file, so that
a long recording with a table of segments is a corpus as it is."""

from __future__ import annotations

import csv
import io
import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Iterable

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


def read_segment(where: str, row: dict[str, str]) -> tuple[float | None, float | None]:
    """A manifest row's ``start`` and ``end`` seconds, each None where the
    column is absent or empty (a start alone reads to the end of the file,
    an end alone from its start).

    Parameters
    ----------
    where : str
        The row in errors, ``"manifest.csv:12"``.
    row : dict
        The row, by column.

    Raises
    ------
    LayoutError
        A value is not a number of seconds >= 0, or the end is not after
        the start; the message names ``where``.
    """
    values: list[float | None] = []
    for column in ("start", "end"):
        text = (row.get(column) or "").strip()
        if not text:
            values.append(None)
            continue
        try:
            value = float(text)
        except ValueError:
            raise LayoutError(f"{where}: {column} {text!r} is not a number of seconds") from None
        if not (math.isfinite(value) and value >= 0):
            raise LayoutError(f"{where}: {column} {text} is not a finite number of seconds >= 0")
        values.append(value)
    start, end = values
    if end is not None and end <= (start or 0.0):
        raise LayoutError(f"{where}: end {end:g} s is not after start {start or 0.0:g} s")
    return start, end


def overlaps(
    rows: Iterable[tuple[str, Path, float | None, float | None]],
) -> list[tuple[str, str]]:
    """The rows that overlap an earlier segment of the same file.

    Parameters
    ----------
    rows : iterable of (where, path, start, end)
        Each row's name in messages (``"manifest.csv:12"``), its file, and
        its start and end seconds (:func:`read_segment`; None: the file's
        start or end). Rows of a file where none gives a segment are not
        compared: listing a file twice is not a segment table.

    Returns
    -------
    list of (str, str)
        ``(row, other)`` for each row that begins before an earlier-starting
        row of its file ends, in the order of ``rows``.
    """
    by_file: dict[str, list[tuple[float, float, int, str]]] = defaultdict(list)
    segmented: set[str] = set()
    for k, (where, path, start, end) in enumerate(rows):
        key = os.path.normpath(path)
        by_file[key].append((start or 0.0, math.inf if end is None else end, k, where))
        if start is not None or end is not None:
            segmented.add(key)
    found = []
    for key in segmented:
        reach, holder = -math.inf, ""
        for start, end, k, where in sorted(by_file[key]):
            if start < reach:
                found.append((k, where, holder))
            if end > reach:
                reach, holder = end, where
    return [(where, other) for _, where, other in sorted(found)]


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
        manifest calls its label column ``emotion``). ``start`` and
        ``end`` (seconds) make a row a segment of its file
        (:func:`read_segment`), whose utterance id is the file's stem and
        the segment, ``"talk_12.5-15"``.
    speaker_column : str, optional
        The column of speakers; default ``speaker``, read when present.

    Raises
    ------
    LayoutError
        The file is missing, not UTF-8 CSV, lacks a column, has an empty
        field, a start or end that is not a number of seconds, an end not
        after its start, or two segments of a file that overlap (they
        would put the same audio in training and test); the message names
        the file and the line (both lines for an overlap).
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
        start, end = read_segment(f"{manifest}:{line}", row)
        utterance_id = Path(row[path_column]).stem
        if start is not None or end is not None:
            # As written, so that the id reads like the row.
            utterance_id += f"_{(row.get('start') or '0').strip()}-{(row.get('end') or 'end').strip()}"
        utterances.append(
            Utterance(path, row[label_column], row.get(speaker) or None, utterance_id, start=start, end=end)
        )
    clash = overlaps((str(line), u.path, u.start, u.end) for (line, _), u in zip(rows, utterances))
    if clash:
        (line, other), more = clash[0], len(clash) - 1
        raise LayoutError(
            f"{manifest}:{line}: this segment of {dict(rows)[int(line)][path_column]} overlaps the one on "
            f"line {other} (overlapping segments would put the same audio in training and test)"
            + (f"; {more} more overlap{'s' if more > 1 else ''}" if more else "")
        )
    return utterances
