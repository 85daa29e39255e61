"""Hugging Face datasets: a folder written by ``datasets``' ``save_to_disk``
(one dataset, or a DatasetDict with a folder per split) or a folder of its
Parquet files, with an Audio column, a label column (ClassLabel or
strings) and optionally a speaker column.

The tables are read with pyarrow a record batch or row group at a time,
never through ``datasets``' own audio decoding; ``datasets``
(``pip install 'glam[hf]'``) only tells which column is Audio and the names
of a ClassLabel. The listing holds one small record per row, not the
audio: a row whose Audio path names a file that exists (a relative path
from the dataset folder) is that file; any other is named
``TABLE#COLUMN/ROW`` (the Arrow or Parquet file, the Audio column, the row
in that file), and its bytes are read only when it is featurised
(:func:`audio_bytes`), a shard at a time, and decoded by the Rust decoder.
"""

from __future__ import annotations

import bisect
import json
import os
import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterator, Sequence

from glam_py.corpora.utterance import LayoutError, Skipped, Utterance, listing

MISSING = "--corpus hf needs the datasets package: pip install 'glam[hf]'"

EXPECTED = (
    "a dataset saved by datasets' save_to_disk (state.json, or dataset_dict.json and a folder per "
    "split) or Parquet files"
)

#: The name of a row whose audio is its bytes: the table file, the Audio column, the row in the file.
_ROW = re.compile(r"(?P<table>.+\.(?:arrow|parquet))#(?P<column>.+)/(?P<row>\d+)")

#: A shard of a split written by datasets: ``train-00000-of-00004.parquet``.
_SHARD = re.compile(r"(?P<split>.+?)-\d{5}-of-\d{5}")


def require() -> None:
    """Raises :class:`ImportError` with the install command when
    ``datasets`` is missing."""
    try:
        import datasets  # noqa: F401
    except ImportError:
        raise ImportError(MISSING) from None


def read(
    root: str | Path,
    subset: str = "full",
    audio_column: str | None = None,
    label_column: str = "label",
    speaker_column: str | None = None,
) -> tuple[list[Utterance], list[Skipped]]:
    """Every labelled row of the dataset at ``root``.

    Parameters
    ----------
    root : str or Path
        The folder ``save_to_disk`` wrote, or one holding Parquet files
        (any depth).
    subset : str, default "full"
        One split's name; "full" reads every split, each utterance's
        ``subset`` naming its split.
    audio_column : str, optional
        The Audio column (a struct of bytes and path). Default: the one
        column the dataset's features declare Audio, else ``audio``.
    label_column : str, default "label"
        Labels: a ClassLabel's names, other values as text.
    speaker_column : str, optional
        Speakers; default ``speaker``, when there is one.

    Returns
    -------
    utterances, skipped
        ``utterance_id`` is ``SPLIT/ROW``, the row in its split (``ROW``
        for a dataset without a split). Rows with no label (empty, or the
        ClassLabel's -1) or no audio (neither bytes nor a path to a file)
        are skipped with the reason.

    Raises
    ------
    ImportError
        ``datasets`` is not installed; the message says how to install it.
    LayoutError
        ``root`` holds no dataset, no such split, or a table lacks a
        column; the message names the file and the columns it has.
    """
    require()
    root = Path(root)
    splits = _splits(root)
    if subset != "full":
        if not subset or subset not in splits:
            names = ", ".join(filter(None, splits)) or "no splits"
            raise LayoutError(f"{root}: no split {subset!r} (--subset); the dataset has {names}")
        splits = {subset: splits[subset]}
    utterances, skipped = [], []
    for split, tables in splits.items():
        first = 0  # of the table in its split
        for table in tables:
            rows = 0
            for row, file, label, speaker, problem in _rows(
                root, table, audio_column, label_column, speaker_column
            ):
                if problem:
                    skipped.append(Skipped(Path(file), problem))
                else:
                    uid = f"{split}/{first + row}" if split else str(first + row)
                    utterances.append(Utterance(file, label, speaker, uid, subset=split or None))
                rows = row + 1
            first += rows
    return utterances, skipped


def audio_bytes(files: Sequence[str]) -> list[bytes | None] | None:
    """The audio bytes of the dataset rows among ``files`` (named
    ``TABLE#COLUMN/ROW`` by :func:`read`), None for the other files; None
    when none is such a row. Each table is opened once, and only those
    rows' audio read."""
    rows = [_ROW.fullmatch(f) for f in files]
    if not any(rows):
        return None
    wanted: dict[tuple[str, str], set[int]] = defaultdict(set)
    for m in filter(None, rows):
        wanted[m["table"], m["column"]].add(int(m["row"]))
    found = {}
    for (table, column), indices in wanted.items():
        ordered = sorted(indices)
        for row, data in zip(ordered, _read_bytes(Path(table), column, ordered)):
            # A row that lost its bytes since it was listed reads as empty, so the decoder reports it.
            found[table, column, row] = data or b""
    return [found[m["table"], m["column"], int(m["row"])] if m else None for m in rows]


def stored_in(file: str) -> str:
    """The file that holds ``file``'s audio: the table of a dataset row,
    else ``file`` itself (for telling whether it changed)."""
    m = _ROW.fullmatch(file)
    return m["table"] if m else file


def _splits(root: Path) -> dict[str, list[Path]]:
    """The table files of each split, in order (the split "" for a dataset saved without one)."""
    if (root / "dataset_dict.json").is_file():
        names = _json(root / "dataset_dict.json").get("splits") or []
        return {name: _arrow_files(root / name) for name in names}
    if (root / "state.json").is_file():
        return {_json(root / "state.json").get("_split") or "": _arrow_files(root)}
    splits: dict[str, list[Path]] = defaultdict(list)
    for file in sorted(root.rglob("*.parquet")):
        splits[_parquet_split(root, file)].append(file)
    if not splits:
        raise LayoutError(f"hf: expected {EXPECTED}; found none: {listing(root)}")
    return dict(splits)


def _parquet_split(root: Path, file: Path) -> str:
    """``train`` for ``train-00000-of-00002.parquet`` anywhere, for any file in
    ``train/``, and for ``train.parquet``."""
    m = _SHARD.fullmatch(file.stem)
    if m:
        return m["split"]
    folder = file.parent.relative_to(root)
    return folder.as_posix() if folder.parts else file.stem


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LayoutError(f"{path}: not a JSON file of save_to_disk ({e})") from None


def _arrow_files(folder: Path) -> list[Path]:
    state = folder / "state.json"
    if not state.is_file():
        raise LayoutError(f"hf: expected {EXPECTED}; {folder} has no state.json: {listing(folder)}")
    files = [folder / entry["filename"] for entry in _json(state).get("_data_files", [])]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise LayoutError(f"{missing[0]}: listed in {state} but missing")
    return files


def _rows(
    root: Path, table: Path, audio_column: str | None, label_column: str, speaker_column: str | None
) -> Iterator[tuple[int, str, str, str | None, str | None]]:
    """``(row, file, label, speaker, problem)`` for each row of ``table``,
    ``problem`` saying why a row is skipped."""
    import pyarrow as pa
    import pyarrow.compute as pc

    schema = _schema(table)
    features = _features(schema)
    audio = _audio_column(table, schema, features, audio_column)
    label = _column(table, schema, label_column, "label", "--label-column")
    if speaker_column is not None:
        speaker = _column(table, schema, speaker_column, "speaker", "--speaker-column")
    else:
        speaker = "speaker" if "speaker" in schema.names else None
    row = 0
    try:
        for batch, has_bytes in _batches(table, audio, [label, *([speaker] if speaker else [])]):
            paths = pc.struct_field(batch.column(audio), "path").to_pylist()
            labels = _values(batch.column(label), features.get(label), table, label, row)
            speakers = (
                _values(batch.column(speaker), features.get(speaker), table, speaker, row)
                if speaker
                else [None] * len(paths)
            )
            for path, present, text, who in zip(paths, has_bytes, labels, speakers):
                file, problem = _audio_of(root, table, audio, row, path, present)
                if text is None:
                    problem = problem or f"no label in column {label}"
                yield row, file, text or "", who, problem
                row += 1
    except pa.ArrowException as e:
        raise LayoutError(f"{table}: not {_kind(table)} ({_short(e)})") from None


def _audio_of(
    root: Path, table: Path, column: str, row: int, path: str | None, has_bytes: bool
) -> tuple[str, str | None]:
    """The row's audio file: its path when that is a file, else its name
    ``TABLE#COLUMN/ROW`` when it has bytes; the problem when neither."""
    if path:
        file = path if os.path.isabs(path) else os.path.join(root, path)
        if os.path.isfile(file):
            return file, None
    name = f"{table}#{column}/{row}"
    if has_bytes:
        return name, None
    if path:
        return name, f"no audio: no bytes in column {column}, and its path {path} is not a file"
    return name, f"no audio: neither bytes nor a path in column {column}"


def _values(column: Any, feature: Any, table: Path, name: str, first_row: int) -> list[str | None]:
    """A label or speaker column as text: a ClassLabel's names (its -1,
    and an empty value, None)."""
    from datasets import ClassLabel

    values = column.to_pylist()
    if not isinstance(feature, ClassLabel):
        return [None if v is None or v == "" else str(v) for v in values]
    out: list[str | None] = []
    for k, v in enumerate(values):
        if v is not None and not -1 <= v < feature.num_classes:
            raise LayoutError(
                f"{table}: row {first_row + k}: {name} {v} is not a class of its ClassLabel "
                f"({feature.num_classes} names)"
            )
        out.append(None if v is None or v == -1 else feature.names[v])
    return out


def _schema(table: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if table.suffix == ".parquet":
            return pq.read_schema(table)
        with pa.memory_map(str(table)) as source:
            return pa.ipc.open_stream(source).schema
    except pa.ArrowException as e:
        raise LayoutError(f"{table}: not {_kind(table)} ({_short(e)})") from None


def _features(schema: Any) -> dict[str, Any]:
    from datasets import Features

    try:
        return dict(Features.from_arrow_schema(schema))
    except (ValueError, TypeError, KeyError):
        # Features metadata datasets cannot read: the types then tell the columns apart.
        return {}


def _audio_column(table: Path, schema: Any, features: dict[str, Any], given: str | None) -> str:
    import pyarrow as pa
    from datasets import Audio

    if given is None:
        declared = [name for name, feature in features.items() if isinstance(feature, Audio)]
        if len(declared) > 1:
            raise LayoutError(
                f"{table}: several Audio columns ({', '.join(declared)}); --path-column chooses one"
            )
        given = declared[0] if declared else "audio"
    name = _column(table, schema, given, "Audio", "--path-column")
    kind = schema.field(name).type
    fields = {field.name for field in kind} if pa.types.is_struct(kind) else set()
    if not {"bytes", "path"} <= fields:
        raise LayoutError(
            f"{table}: column {name} is not an Audio column (a struct of bytes and path): it holds {kind}"
        )
    return name


def _column(table: Path, schema: Any, name: str, what: str, flag: str) -> str:
    if name not in schema.names:
        raise LayoutError(
            f"{table}: no {what} column {name} (found {', '.join(schema.names) or 'no column'}; "
            f"{flag} names another)"
        )
    return name


def _batches(table: Path, audio: str, columns: list[str]) -> Iterator[tuple[Any, list[bool]]]:
    """Record batches (Arrow) or row groups (Parquet) of ``columns`` and the
    Audio column's paths, not its bytes, each with which rows have bytes."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if table.suffix == ".arrow":
        with pa.memory_map(str(table)) as source:
            # Memory-mapped: the bytes are only looked at for their null flags.
            for batch in pa.ipc.open_stream(source):
                yield batch, pc.struct_field(batch.column(audio), "bytes").is_valid().to_pylist()
        return
    with open(table, "rb") as f:
        pf = pq.ParquetFile(f, buffer_size=1 << 20, pre_buffer=False)
        leaf = next(k for k in range(pf.metadata.num_columns) if pf.schema.column(k).path == f"{audio}.bytes")
        for g in range(pf.num_row_groups):
            group = pf.read_row_group(g, columns=[*columns, f"{audio}.path"])
            stats = pf.metadata.row_group(g).column(leaf).statistics
            if stats is not None and stats.has_null_count and stats.null_count == 0:
                # Every row has bytes: no need to read them to know.
                yield group, [True] * group.num_rows
                continue
            present = []
            for part in pf.iter_batches(batch_size=64, row_groups=[g], columns=[f"{audio}.bytes"]):
                present += pc.struct_field(part.column(audio), "bytes").is_valid().to_pylist()
            yield group, present


def _read_bytes(table: Path, column: str, rows: list[int]) -> list[bytes | None]:
    """The audio bytes of ``rows`` (ascending) of ``table``, taken from the
    record batches or row groups that hold them, one at a time (taking
    from a whole table would first join all its audio in memory)."""
    import pyarrow.compute as pc

    out: list[bytes | None] = []
    for first, piece in _pieces(table, column, rows):
        local = rows[bisect.bisect_left(rows, first) : bisect.bisect_left(rows, first + piece.num_rows)]
        taken = piece.column(column).take([r - first for r in local])
        del piece  # a row group is let go before the next is read
        out += pc.struct_field(taken, "bytes").to_pylist()
    return out


def _pieces(table: Path, column: str, rows: list[int]) -> Iterator[tuple[int, Any]]:
    """``(first row, record batch)`` for each batch holding some of ``rows``
    (ascending): an Arrow file's own batches, memory-mapped; a Parquet
    file's row groups streamed a few rows at a time, only ``column``'s bytes
    and no further than the last row wanted."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def wanted(first: int, n: int) -> bool:
        k = bisect.bisect_left(rows, first)
        return k < len(rows) and rows[k] < first + n

    first = 0
    if table.suffix == ".arrow":
        with pa.memory_map(str(table)) as source:
            for batch in pa.ipc.open_stream(source):
                if wanted(first, batch.num_rows):
                    yield first, batch
                first += batch.num_rows
        return
    with open(table, "rb") as f:
        # Buffered reads, not a whole row group at once: an audio dataset's hold up to 100 MB.
        pf = pq.ParquetFile(f, buffer_size=1 << 20, pre_buffer=False)
        for g in range(pf.num_row_groups):
            n = pf.metadata.row_group(g).num_rows
            if not wanted(first, n):
                first += n
                continue
            for batch in pf.iter_batches(batch_size=64, row_groups=[g], columns=[f"{column}.bytes"]):
                if wanted(first, batch.num_rows):
                    yield first, batch
                first += batch.num_rows
                if first > rows[-1]:
                    return


def _kind(table: Path) -> str:
    return "a Parquet file" if table.suffix == ".parquet" else "an Arrow file written by save_to_disk"


def _short(e: Exception) -> str:
    return " ".join(str(e).split())
