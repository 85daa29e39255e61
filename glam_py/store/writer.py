"""Writing a feature store: the file list is cut into fixed shards of
consecutive files, each shard featurised and written on its own (array,
skip list, index, then the check file recording their sizes and checksums,
each atomically). A run that stops anywhere resumes
at the first incomplete shard and ends with byte-identical arrays; several
writers (``part=(k, n)``) take every n-th shard into the same folder, or
into folders that :func:`merge` joins."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Sequence

from glam_py import features
from glam_py.atomic import atomic_write, write_checks, write_json
from glam_py.corpora import Skipped, Utterance, hf
from glam_py.features import FeatureConfig
from glam_py.store import layout
from glam_py.store.format import (
    FORMAT_VERSION,
    StoreMismatch,
    describe_differences,
    expected_shards,
    read_settings,
)


@dataclass
class WriteReport:
    shards_total: int
    shards_written: int
    shards_already_done: int
    complete: bool
    failed_files: int
    too_short: int


def _fingerprint(utterances: Sequence[Utterance]) -> str:
    """Names, segments, labels, speakers and each file's size and
    modification time (a dataset row's: its table's), so a store of files
    that changed since is not taken for current."""
    h = hashlib.sha256()
    for u in utterances:
        try:
            st = os.stat(hf.stored_in(u.file))
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        # Whole files as before segments existed, so their stores stay current.
        segment = "" if u.segment is None else f"\t{u.start}\t{u.end}"
        h.update(f"{u.path}\t{u.label}\t{u.speaker}\t{stamp}{segment}\n".encode())
    return h.hexdigest()


def settings_of(
    config: FeatureConfig,
    utterances: Sequence[Utterance],
    files_per_shard: int,
    classes: Sequence[str] | None = None,
) -> dict:
    present = list(dict.fromkeys(u.label for u in utterances))
    if classes is None:
        classes = present
    stray = [label for label in present if label not in classes]
    if stray:
        raise ValueError(f"labels {', '.join(stray)} are not among the classes {', '.join(classes)}")
    return dict(
        format=FORMAT_VERSION,
        features=config.to_dict(),
        files_per_shard=files_per_shard,
        n_files=len(utterances),
        files_sha256=_fingerprint(utterances),
        labels=list(classes),
    )


def _claim(root: Path, settings: dict) -> None:
    path = root / layout.SETTINGS
    if not path.exists():
        write_json(path, settings)
        return
    found = layout.read_json(path)
    diffs = {
        k: (settings[k], found.get(k)) for k in settings if k != "features" and found.get(k) != settings[k]
    }
    if found.get("features") != settings["features"]:
        # Compared as settings: a store written before a setting existed
        # lacks it, and holds what its default gives (speed 1).
        old, new = (
            FeatureConfig.from_dict(found["features"]),
            FeatureConfig.from_dict(settings["features"]),
        )
        diffs = {**new.differences(old), **diffs}
    if diffs:
        raise StoreMismatch(
            f"{root} holds a store written with other settings "
            f"({describe_differences(diffs)}); use another --out or delete it"
        )


def _seconds(value: float | None) -> str:
    return "" if value is None else str(value)


def _shard_rows(files: Sequence[features.FileInfo], chunk: Sequence[Utterance], k: int):
    index, skipped, first = [], [], 0
    for u, info in zip(chunk, files):
        # A segment's read errors name it; its other reasons get it here.
        segment = ""
        if u.segment is not None:
            start, end = u.segment
            segment = f" (segment {start:g}-{end:g} s)" if end is not None else f" (segment from {start:g} s)"
        if info.error is not None:
            skipped.append(dict(path=str(u.path), reason=f"unreadable: {info.error}"))
        elif info.n_windows == 0:
            skipped.append(dict(path=str(u.path), reason=f"too short{segment}: {info.note}"))
        else:
            index.append(
                dict(
                    utterance_id=u.utterance_id or Path(u.path).stem,
                    path=str(u.path),
                    start=_seconds(u.start),
                    end=_seconds(u.end),
                    label=u.label,
                    speaker=u.speaker or "",
                    session=u.session or "",
                    subset=u.subset or "",
                    shard=k,
                    first_window=first,
                    n_windows=info.n_windows,
                    duration_s=f"{info.duration_s:.6f}",
                    sample_rate=info.sample_rate,
                    note=info.note or "",
                )
            )
            first += info.n_windows
    return index, skipped


def write_store(
    root: str | Path,
    utterances: Sequence[Utterance],
    config: FeatureConfig,
    *,
    left_out: Sequence[Skipped] = (),
    files_per_shard: int = 256,
    part: tuple[int, int] = (0, 1),
    threads: int | None = None,
    max_shards: int | None = None,
    classes: Sequence[str] | None = None,
    on_shard: Callable[[list[features.FileInfo]], None] | None = None,
) -> WriteReport:
    """Featurises ``utterances`` into the store at ``root``, resuming what
    an earlier run left. ``part=(k, n)`` writes shards k, k + n, ...;
    ``max_shards`` stops after that many new shards (for time-limited jobs).
    ``classes`` is recorded as the order of a model's outputs
    (:func:`glam_py.corpora.load` gives it; default: the labels' order of
    first appearance). When every shard is there, the index and skip list
    are assembled. A file larger than
    :data:`glam_py.features.LONG_FILE_BYTES` is featurised a chunk of
    windows at a time, written to its shard as they come, so memory does not
    grow with a recording's length. ``on_shard`` gets each written shard's
    :class:`FileInfo` list."""
    root = Path(root)
    if not utterances:
        raise ValueError("no utterance to featurise (did the label map drop them all?)")
    k_part, n_parts = part
    if not 0 <= k_part < n_parts:
        raise ValueError(f"part {k_part}/{n_parts}: need 0 <= k < n")
    root.mkdir(parents=True, exist_ok=True)
    _claim(root, settings_of(config, utterances, files_per_shard, classes))
    if not (root / layout.LEFT_OUT).exists():
        layout.write_csv(
            root / layout.LEFT_OUT,
            layout.SKIPPED_COLUMNS,
            [dict(path=str(s.path), reason=s.reason) for s in left_out],
        )
    n_shards = max(1, -(-len(utterances) // files_per_shard))
    mine = [k for k in range(n_shards) if k % n_parts == k_part]
    todo = [k for k in mine if not layout.shard_complete(root, k)]
    if max_shards is not None:
        todo = todo[:max_shards]
    chunks = {k: utterances[k * files_per_shard : (k + 1) * files_per_shard] for k in todo}
    failed = too_short = 0
    for k in todo:
        files: list[features.FileInfo] = []
        paths = (layout.shard_array(root, k), layout.shard_skipped(root, k), layout.shard_index(root, k))
        array = atomic_write(
            paths[0],
            lambda f, k=k, files=files: _featurize_shard(chunks[k], config, threads, f, files),
        )
        index, skipped = _shard_rows(files, chunks[k], k)
        failed += sum(1 for f in files if f.error is not None)
        too_short += sum(1 for f in files if f.error is None and f.n_windows == 0)
        records = (
            array,
            layout.write_csv(paths[1], layout.SKIPPED_COLUMNS, skipped),
            layout.write_csv(paths[2], layout.INDEX_COLUMNS, index),
        )
        write_checks(layout.shard_check(root, k), dict(zip(paths, records)))
        if on_shard:
            on_shard(files)
    complete = assemble(root)
    done_before = sum(1 for k in mine if k not in chunks and layout.shard_complete(root, k))
    return WriteReport(n_shards, len(todo), done_before, complete, failed, too_short)


def _featurize_shard(
    utterances: Sequence[Utterance],
    config: FeatureConfig,
    threads: int | None,
    f: BinaryIO,
    files: list[features.FileInfo],
) -> None:
    """The windows of ``utterances`` into the open ``.npy`` file ``f``,
    their :class:`FileInfo` appended to ``files``: small files (and
    segments, and dataset rows, read from their tables now) in one parallel
    batch, each long one a chunk at a time (a damaged one's windows taken
    back out)."""
    out = layout.WindowAppender(f, config.n_features, config.n_frames)
    paths = [u.file for u in utterances]
    segments = [u.segment for u in utterances]
    for long, run in features.split_long(paths, len(paths), segments=segments):
        if not long:
            mine = paths[run.start : run.stop]
            batch = features.featurize(
                mine, config, threads, segments[run.start : run.stop], hf.audio_bytes(mine)
            )
            out.append(batch.windows)
            files.extend(batch.files)
            continue
        mark = out.mark()
        chunks = features.iter_file_windows(paths[run.start], config, threads, segment=segments[run.start])
        for chunk in chunks:
            out.append(chunk)
        if chunks.info.error is not None:
            out.rollback(mark)
        files.append(chunks.info)
    out.close()


def assemble(root: Path) -> bool:
    """Writes index.csv and skipped.csv once every shard is complete;
    returns whether the store is complete."""
    n_shards = expected_shards(read_settings(root))
    if not all(layout.shard_complete(root, k) for k in range(n_shards)):
        return False
    if (root / layout.INDEX).exists():
        return True
    layout.concatenate_csv(
        root / layout.SKIPPED,
        layout.SKIPPED_COLUMNS,
        [root / layout.LEFT_OUT, *(layout.shard_skipped(root, k) for k in range(n_shards))],
    )
    layout.concatenate_csv(
        root / layout.INDEX, layout.INDEX_COLUMNS, (layout.shard_index(root, k) for k in range(n_shards))
    )
    return True


def merge(out: str | Path, parts: Sequence[str | Path]) -> bool:
    """Joins stores written by several machines into ``out`` (same settings
    required); returns whether the result is complete. Only the parts'
    complete shards are copied, each with its check file last, so an
    interrupted merge resumes like a featurisation."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for part in map(Path, parts):
        settings = read_settings(part)
        _claim(out, settings)
        if not (out / layout.LEFT_OUT).exists():
            _copy(part / layout.LEFT_OUT, out / layout.LEFT_OUT)
        for k in range(expected_shards(settings)):
            if layout.shard_complete(part, k) and not layout.shard_complete(out, k):
                for file in (
                    layout.shard_array,
                    layout.shard_skipped,
                    layout.shard_index,
                    layout.shard_check,
                ):
                    _copy(file(part, k), file(out, k))
    return assemble(out)


def _copy(source: Path, target: Path) -> None:
    with source.open("rb") as f:
        atomic_write(target, lambda out: shutil.copyfileobj(f, out))
