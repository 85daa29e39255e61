"""Faults: damaged shards and checkpoints refused, one writer per run
directory and store, a full disk, a read-only --out and a NaN loss.

A kill -9 of a two-rank DDP run resuming to the same metrics is
tests/test_distributed.py::test_a_killed_ddp_run_resumes_to_the_same_results."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from glam_py.atomic import DamagedFile
from glam_py.checkpoints import CheckpointError, load_tensors, save_tensors
from glam_py.corpora import read_manifest
from glam_py.corpora.demo import generate_demo_corpus
from glam_py.features import FeatureConfig
from glam_py.store import FeatureStore, layout, write_store
from glam_py.train import trainer
from glam_py.train.data import WindowRows
from glam_py.train.protocol import random_splits
from tests.support.training import split_metrics, train_command

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    generate_demo_corpus(root, n_speakers=2, per_class_per_speaker=2)
    return root


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory) -> Path:
    """The store of ``featurize_command`` written in one go."""
    root = tmp_path_factory.mktemp("reference") / "store"
    subprocess.run(featurize_command(corpus, root), check=True, env=ENV, capture_output=True)
    return root


def featurize_command(corpus: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "glam_py.featurize",
        "--corpus",
        "csv",
        "--root",
        str(corpus),
        "--out",
        str(out),
        "--files-per-shard",
        "3",
        "--threads",
        "1",
        *extra,
    ]


def shards(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.glob("shard_*")) if ".tmp" not in p.name}


def limited(command: list[str], max_bytes: int) -> list[str]:
    """``command`` (a python -m one) under RLIMIT_FSIZE, SIGXFSZ ignored so
    that a write past the limit fails with EFBIG as on a full disk."""
    code = textwrap.dedent(f"""
        import resource, runpy, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({max_bytes}, {max_bytes}))
        sys.argv = {command[2:]!r}
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    """)
    return [sys.executable, "-c", code]


def error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: "), proc.stderr
    return lines[-1]


# --- damage detected -------------------------------------------------------


def test_a_damaged_shard_is_refused_on_open_found_by_verify_and_rewritten(reference, corpus, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(reference, store)
    assert len(FeatureStore(store)) > 0
    verify = [sys.executable, "-m", "glam_py.featurize", "--verify", str(store)]
    ok = subprocess.run(verify, env=ENV, capture_output=True, text=True)
    assert ok.returncode == 0 and "every shard intact" in ok.stdout

    truncated, altered = layout.shard_array(store, 1), layout.shard_index(store, 2)
    truncated.write_bytes(truncated.read_bytes()[:-100])
    with pytest.raises(DamagedFile, match=f"{truncated}: damaged: .* bytes where .* were written"):
        FeatureStore(store)
    data = bytearray(altered.read_bytes())
    data[-2] ^= 1  # same size: only the checksum tells
    altered.write_bytes(bytes(data))
    found = subprocess.run(verify, env=ENV, capture_output=True, text=True)
    assert found.returncode == 1
    lines = found.stdout.strip().splitlines()
    assert lines[-1] == f"{store}: 2 damaged files"
    assert str(truncated) in lines[0] and "truncated" in lines[0]
    assert str(altered) in lines[1] and "SHA-256" in lines[1]

    # A resumed featurisation takes the truncated shard for incomplete and
    # writes it again, byte-identical.
    write_store(store, read_manifest(corpus / "manifest.csv"), FeatureConfig(), files_per_shard=3)
    assert shards(store)[truncated.name] == shards(reference)[truncated.name]


def test_a_truncated_or_altered_checkpoint_is_refused_naming_it(tmp_path):
    path = tmp_path / "state" / "glam__seed1.pt"
    save_tensors(path, {"w": torch.arange(1000.0), "epoch": 3})
    assert load_tensors(path)["epoch"] == 3
    good = path.read_bytes()
    path.write_bytes(good[:-10])
    with pytest.raises(CheckpointError, match=f"{path}: damaged: .* bytes .* delete it"):
        load_tensors(path, remedy="delete it")
    altered = bytearray(good)
    altered[len(altered) // 2] ^= 1
    path.write_bytes(bytes(altered))
    with pytest.raises(CheckpointError, match=f"{path}: damaged: its SHA-256 differs"):
        load_tensors(path)
    # Killed between writing the check file and replacing the file: the old
    # file is still accepted (the check file records both).
    path.write_bytes(good)
    save_tensors(path, {"w": torch.zeros(3), "epoch": 4})
    assert load_tensors(path)["epoch"] == 4


# --- one writer ------------------------------------------------------------


def test_a_second_train_on_one_out_is_refused_and_a_killed_ones_lock_taken_over(small, tmp_path):
    root, out = small[0], tmp_path / "run"
    command = train_command(root, out)
    command[command.index("--epochs") + 1] = "200"
    first = subprocess.Popen(command, env=ENV, start_new_session=True)
    try:
        lock = out / ".lock"
        while first.poll() is None and not (lock.exists() and lock.read_text()):
            time.sleep(0.05)
        second = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=300)
        line = error_line(second)
        # Refused at once, not after waiting for the holder: it still trains.
        assert first.poll() is None
        assert f"{out}: this run directory is being written by process {first.pid} " in line
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    third = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert (
            third.stdout.readline()
            .strip()
            .startswith(f"{out}: took over the lock of dead process {first.pid} ")
        )
    finally:
        os.killpg(third.pid, signal.SIGKILL)
        third.wait()


def test_two_featurize_parts_of_one_store_proceed_side_by_side(reference, corpus, tmp_path):
    out = tmp_path / "store"
    parts = [
        subprocess.Popen(
            featurize_command(corpus, out, "--shard", f"{k}/2"),
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(2)
    ]
    for p in parts:
        assert p.wait(120) == 0, p.stderr.read()
    assert shards(out) == shards(reference)
    assert (out / "index.csv").read_bytes() == (reference / "index.csv").read_bytes()


def test_two_concurrent_demo_generations_make_one_intact_corpus_once(tmp_path):
    # A training and a featurisation started together on the demo corpus:
    # one generates it, the other waits and uses it.
    log = tmp_path / "synthesised"
    code = textwrap.dedent(f"""
        import sys, time
        from glam_py.corpora import demo
        synthesize = demo.synthesize
        def logged(*args):
            with open({str(log)!r}, "a") as f:
                f.write("utterance\\n")
            time.sleep(0.1)  # long enough that the other process asks meanwhile
            return synthesize(*args)
        demo.synthesize = logged
        sys.exit(demo.main(sys.argv[1:]))
    """)
    command = [sys.executable, "-c", code, "--speakers", "1", "--per-class", "3"]
    procs = [
        subprocess.Popen(
            command + ["--out", str(tmp_path / "shared")],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    assert [p.wait(120) for p in procs] == [0, 0]
    assert log.read_text().count("utterance") == 4 * 3  # once, not twice
    generate_demo_corpus(tmp_path / "alone", n_speakers=1, per_class_per_speaker=3)

    def files(root):
        return {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".lock")
        }

    assert files(tmp_path / "shared") == files(tmp_path / "alone")


# --- full disk, read-only --out ---------------------------------------------


def test_a_full_disk_while_featurising_is_one_line_and_the_store_resumes(reference, corpus, tmp_path):
    out = tmp_path / "store"
    largest = max(p.stat().st_size for p in reference.glob("shard_*.npy"))
    proc = subprocess.run(
        limited(featurize_command(corpus, out), largest - 1), env=ENV, capture_output=True, text=True
    )
    line = error_line(proc)
    assert "shard_" in line and ".npy: cannot write, file too large" in line
    assert not list(out.glob("*.tmp*"))
    subprocess.run(featurize_command(corpus, out), env=ENV, check=True, capture_output=True)
    assert shards(out) == shards(reference)


def test_a_full_disk_while_checkpointing_is_one_line_and_the_run_resumes(small, tmp_path):
    root = small[0]
    command = train_command(root, tmp_path / "straight")
    command[command.index("apcnn,mhcnn")] = "apcnn"
    subprocess.run(command, env=ENV, check=True, capture_output=True)
    straight = json.loads((tmp_path / "straight" / "results.json").read_text())
    state = max(p.stat().st_size for p in (tmp_path / "straight" / "models").glob("*.pt"))

    command[command.index(str(tmp_path / "straight"))] = str(tmp_path / "full")
    proc = subprocess.run(limited(command, state // 2), env=ENV, capture_output=True, text=True)
    line = error_line(proc)
    assert "state" in line and ".pt: cannot write, file too large" in line
    subprocess.run(command, env=ENV, check=True, capture_output=True)
    assert split_metrics(json.loads((tmp_path / "full" / "results.json").read_text())) == split_metrics(
        straight
    )


def read_only_folder(tmp_path: Path) -> list[str]:
    """A command prefix running in its own mount namespace where
    ``tmp_path/ro`` is a read-only tmpfs (root ignores file modes, so a
    chmod would not do); skips where namespaces are not allowed."""
    (tmp_path / "ro").mkdir()
    prefix = ["unshare", "-rm", "sh", "-c", f'mount -t tmpfs -o ro tmpfs "{tmp_path}/ro" && exec "$@"', "sh"]
    if shutil.which("unshare") is None or subprocess.run(prefix + ["true"], capture_output=True).returncode:
        pytest.skip("no unprivileged mount namespace (unshare -rm) to make a read-only folder")
    return prefix


def test_a_read_only_out_is_one_line_before_any_work(tmp_path):
    prefix = read_only_folder(tmp_path)
    demo = tmp_path / "demo"  # generated first by a run that went ahead
    for command in [
        ["glam_py.train", "--root", str(demo), "--out", str(tmp_path / "ro" / "run")],
        ["glam_py.featurize", "--root", str(demo), "--out", str(tmp_path / "ro" / "store")],
    ]:
        proc = subprocess.run(
            prefix + [sys.executable, "-m", *command], env=ENV, capture_output=True, text=True, timeout=120
        )
        assert error_line(proc) == (
            f"error: --out {tmp_path}/ro/{command[-1].rsplit('/', 1)[1]}: cannot "
            f"write there (permission denied or read-only)"
        )
        assert not demo.exists()


# --- NaN loss ----------------------------------------------------------------


def test_a_nan_loss_stops_the_split_naming_it_and_keeps_the_last_good_state(small, tmp_path, monkeypatch):
    _, cfg, data = small
    split = random_splits(list(data.labels), 1, 1, False)[0]
    windows = len(WindowRows(data.train_windows, data.labels, split.train))
    calls, per_epoch = [0], -(-windows // cfg.batch_size)
    loss = trainer.mixup_loss

    def poisoned(*args):
        calls[0] += 1
        value = loss(*args)
        return value * float("nan") if calls[0] > per_epoch else value  # from the second epoch

    monkeypatch.setattr(trainer, "mixup_loss", poisoned)
    state = tmp_path / "state.pt"
    with pytest.raises(
        trainer.NonFiniteLoss,
        match=f"apcnn split {split.name}: the training loss became nan in epoch 2; training "
        f"stopped, its last saved state is kept in {state}",
    ):
        # State saved after every epoch, so the last good one is epoch 1's.
        trainer.train_split("apcnn", cfg.replace(save_every_s=0.0), data, split, state_path=state)
    kept = load_tensors(state)
    assert kept["epoch"] == 1 and all(
        torch.isfinite(v).all() for v in kept["model"].values() if v.is_floating_point()
    )
