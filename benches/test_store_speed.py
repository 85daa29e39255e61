"""Featurising all of EmoDB into a feature store (the featurize command's
work, 2 threads) against the authors' pipeline on the same files in the same
run: librosa.load at 16 kHz, 2 s windows every 0.4 s, MFCC per window, the
arrays pickled (issue: corpus readers and featurize)."""

from __future__ import annotations

import pickle
import shutil
import tempfile
from pathlib import Path

import pytest

from benches.benchutil import cut_windows, one_thread, record
from glam_py import corpora
from glam_py.features import FeatureConfig
from glam_py.store import write_store

librosa = pytest.importorskip("librosa")


@pytest.fixture(scope="module")
def emodb(emodb_paths):
    utterances, _ = corpora.read_corpus("emodb", emodb_paths[0].parent.parent)
    return utterances


def authors_pipeline(utterances, out: Path) -> None:
    data = {}
    for u in utterances:
        y, _ = librosa.load(u.path, sr=16000)
        data[u.utterance_id] = (
            [librosa.feature.mfcc(y=w, sr=16000, n_mfcc=26) for w in cut_windows(y)],
            u.label,
        )
    with (out / "features.pkl").open("wb") as f:
        pickle.dump(data, f)


def fresh_folder():
    return Path(tempfile.mkdtemp(prefix="glam_bench_store_"))


@pytest.mark.benchmark(group="EmoDB (535 files) into a feature store")
def test_store_ours_2_threads(benchmark, emodb):
    record(benchmark, "ours", len(emodb), "files")

    def run():
        out = fresh_folder()
        try:
            write_store(out, emodb, FeatureConfig(), threads=2)
        finally:
            shutil.rmtree(out)

    benchmark.pedantic(run, rounds=5, warmup_rounds=1)


@pytest.mark.benchmark(group="EmoDB (535 files) into a feature store")
def test_store_authors_pipeline(benchmark, emodb):
    record(benchmark, "anchor", len(emodb), "files")

    def run():
        out = fresh_folder()
        try:
            authors_pipeline(emodb, out)
        finally:
            shutil.rmtree(out)

    with one_thread():
        benchmark.pedantic(run, rounds=1, warmup_rounds=0)
