"""The feature store: contents, resuming after a stop or a kill, several
writers and merging, and refusing other settings."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from glam_py import features
from glam_py.atomic import DamagedFile, write_json
from glam_py.corpora import read_manifest
from glam_py.corpora.demo import generate_demo_corpus
from glam_py.errors import UsageError
from glam_py.features import FeatureConfig
from glam_py.featurize import part_from
from glam_py.store import (
    FORMAT_VERSION,
    FeatureStore,
    StoreMismatch,
    UnsupportedFormat,
    layout,
    left_out_summary,
    merge,
    reader,
    write_store,
)

CFG = FeatureConfig()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    manifest = generate_demo_corpus(root, n_speakers=4, per_class_per_speaker=3)
    bad = root / "wav" / "broken.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage")
    with manifest.open("a") as f:
        f.write("wav/broken.wav,sad,spk00\n")
    return manifest


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("store_ref")
    write_store(root, read_manifest(corpus), CFG, files_per_shard=5)
    return root


def shard_bytes(root: Path) -> dict[str, bytes]:
    names = sorted(p.name for p in root.glob("shard_*.npy"))
    return {n: (root / n).read_bytes() for n in names} | {"index": (root / "index.csv").read_bytes()}


def test_store_contents(reference, corpus):
    store = FeatureStore(reference, expected=CFG)
    utterances = read_manifest(corpus)
    skipped = {Path(s["path"]).name: s["reason"] for s in store.skipped}
    assert "unreadable" in skipped.pop("broken.wav")
    assert skipped and all(r.startswith("too short") for r in skipped.values())
    assert len(store) + len(skipped) + 1 == len(utterances)
    assert store.n_windows == sum(len(np.load(p, mmap_mode="r")) for p in reference.glob("shard_*.npy"))
    assert set(store.labels) == {"neutral", "happy", "sad", "angry"}
    row = store.index[7]
    expected, _ = features.featurize_signal(features.load(row["path"]), 16000, CFG)
    got = store.windows(7)
    np.testing.assert_array_equal(got, expected)
    assert got.shape == expected.shape and len(got) == len(expected) and got.dtype == np.float32
    # Indexing reads just what it names, as an array would give it.
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(got[-1], expected[-1])
    np.testing.assert_array_equal(got[1:3], expected[1:3])
    np.testing.assert_array_equal(got[::2], expected[::2])
    np.testing.assert_array_equal(got[[2, 0]], expected[[2, 0]])
    with pytest.raises(IndexError):
        got[len(expected)]
    assert {"utterance_id", "path", "label", "speaker", "shard", "first_window", "n_windows"} <= set(row)
    # The columns give every row the values its dict gives, as written.
    written = layout.read_csv(reference / layout.INDEX)
    assert [store.index[i] for i in range(len(store))] == [
        {
            **r,
            "shard": int(r["shard"]),
            "first_window": int(r["first_window"]),
            "n_windows": int(r["n_windows"]),
        }
        | {"duration_s": float(r["duration_s"])}
        for r in written
    ]
    assert store.index.column("label").tolist() == [r["label"] for r in written]
    # featurize's summary reads the files a line at a time, and says the same.
    line = store.skipped_summary()
    assert line.startswith(f"left out: {len(skipped) + 1} of {len(utterances)} utterances (")
    assert f"{len(skipped)} shorter than a window with pad=drop; 1 unreadable" in line
    assert left_out_summary(reference) == line


def test_reading_keeps_a_bounded_number_of_shards_open(reference, monkeypatch):
    # Every shard read in turn, twice over: at most MAX_OPEN_SHARDS of them
    # open at once, and every window as the shard's array holds it.
    monkeypatch.setattr(reader, "MAX_OPEN_SHARDS", 2)
    store = FeatureStore(reference)
    assert store.index.column("shard").max() >= 3
    fds = lambda: len(os.listdir("/proc/self/fd"))
    before = fds()
    for _ in range(2):
        for i in range(len(store)):
            row = store.index[i]
            shard = np.load(layout.shard_array(reference, row["shard"]))
            first = row["first_window"]
            np.testing.assert_array_equal(
                np.asarray(store.windows(i)), shard[first : first + row["n_windows"]]
            )
            assert fds() <= before + 2
    del store
    assert fds() == before


def test_a_damaged_index_or_shard_is_named(reference, tmp_path):
    copy = tmp_path / "store"
    shutil.copytree(reference, copy)
    index = copy / layout.INDEX
    lines = index.read_text().splitlines()
    shard = FeatureStore(copy).index[0]["shard"]
    # A window count past the shard's end: the read names the shard file.
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("n_windows")] = "100000"
    index.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    with pytest.raises(DamagedFile, match=f"shard_{shard:05d}.npy: windows 0 to 100000 asked for"):
        np.asarray(FeatureStore(copy).windows(0))
    cells[header.index("n_windows")] = "many"
    index.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    with pytest.raises(DamagedFile, match="index.csv, line 2: 'many' is not a number"):
        FeatureStore(copy)


def test_resumes_after_a_stop_and_leftovers_of_a_crash(corpus, reference, tmp_path):
    utterances = read_manifest(corpus)
    report = write_store(tmp_path, utterances, CFG, files_per_shard=5, max_shards=3)
    assert (report.shards_written, report.complete) == (3, False)
    with pytest.raises(ValueError, match="incomplete .3 of 10 shards"):
        FeatureStore(tmp_path)
    # What a kill leaves: a half-written temporary file, and a shard whose
    # array landed but whose index did not.
    (tmp_path / "shard_00003.npy.tmp999").write_bytes(b"\x93NUMPY half")
    (tmp_path / "shard_00002.csv").unlink()
    (tmp_path / "shard_00002.npy").write_bytes(b"corrupt")
    report = write_store(tmp_path, utterances, CFG, files_per_shard=5)
    assert report.complete and report.shards_written == 8
    assert shard_bytes(tmp_path) == shard_bytes(reference)
    again = write_store(tmp_path, utterances, CFG, files_per_shard=5)
    assert again.shards_written == 0 and again.complete


def test_resumes_after_kill_minus_9(corpus, reference, tmp_path):
    command = [
        sys.executable,
        "-m",
        "glam_py.featurize",
        "--corpus",
        "csv",
        "--root",
        str(corpus.parent),
        "--out",
        str(tmp_path),
        "--files-per-shard",
        "5",
        "--threads",
        "1",
    ]
    killed_mid_run = False
    for _ in range(20):
        for p in tmp_path.iterdir():
            p.unlink()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None and not (tmp_path / "shard_00001.csv").exists():
            time.sleep(0.001)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if not (tmp_path / "index.csv").exists():
            killed_mid_run = True
            break
    assert killed_mid_run, "the run always finished before it could be killed"
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert shard_bytes(tmp_path) == shard_bytes(reference)


def test_three_writers_merged_equal_one(corpus, reference, tmp_path):
    utterances = read_manifest(corpus)
    parts = [tmp_path / f"part{k}" for k in range(3)]
    for k, part in enumerate(parts):
        report = write_store(part, utterances, CFG, files_per_shard=5, part=(k, 3))
        assert not report.complete
    assert merge(tmp_path / "merged", parts)
    assert shard_bytes(tmp_path / "merged") == shard_bytes(reference)
    shared = tmp_path / "shared"
    for k in (2, 0, 1):
        report = write_store(shared, utterances, CFG, files_per_shard=5, part=(k, 3))
    assert report.complete
    assert shard_bytes(shared) == shard_bytes(reference)


def test_other_settings_are_refused_naming_the_difference(reference, corpus):
    with pytest.raises(StoreMismatch, match="pad: asked tile, stored drop"):
        FeatureStore(reference, expected=CFG.replace(pad="tile"))
    with pytest.raises(StoreMismatch, match="overlap_s: asked 1.0, stored 1.6"):
        write_store(reference, read_manifest(corpus), CFG.replace(overlap_s=1.0), files_per_shard=5)


def test_a_store_of_another_format_version_is_refused_in_one_line(reference, tmp_path):
    store = tmp_path / "future"
    shutil.copytree(reference, store)
    settings = layout.read_json(store / layout.SETTINGS)
    write_json(store / layout.SETTINGS, settings | {"format": FORMAT_VERSION + 1})
    with pytest.raises(UnsupportedFormat) as refused:
        FeatureStore(store)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(
        f"{store / layout.SETTINGS}: store format {FORMAT_VERSION + 1} is not supported"
    )
    assert f"reads format {FORMAT_VERSION}" in message
    with pytest.raises(UnsupportedFormat, match=f"store format {FORMAT_VERSION + 1} is not supported"):
        merge(tmp_path / "merged", [store])


def test_part_from_flag_torchrun_and_slurm():
    assert part_from((2, 3), {"RANK": "1", "WORLD_SIZE": "4"}) == (2, 3)  # the flag (parsed) wins
    assert part_from(None, {"RANK": "1", "WORLD_SIZE": "4"}) == (1, 4)
    assert part_from(
        None, {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "3"}
    ) == (2, 4)
    assert part_from(None, {}) == (0, 1)
    with pytest.raises(UsageError, match="RANK/WORLD_SIZE in the environment give part 4 of 4"):
        part_from(None, {"RANK": "4", "WORLD_SIZE": "4"})
