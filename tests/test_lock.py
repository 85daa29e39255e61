"""One writer per folder (glam_py/lock.py): refusals name the holder, the
lock of a process killed with SIGKILL is taken over, and declared parts of
one job proceed side by side."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from glam_py.lock import Job, LockedError, WriterLock

ROOT = Path(__file__).resolve().parents[1]


def holder(folder: Path, **options) -> subprocess.Popen:
    """A process holding ``WriterLock(folder, **options)`` until its stdin closes."""
    code = textwrap.dedent(f"""
        import sys
        from glam_py.lock import Job, WriterLock
        options = {options!r}
        if "job" in options:
            options["job"] = Job(*options["job"])
        with WriterLock({str(folder)!r}, **options):
            print("locked", flush=True)
            sys.stdin.read()
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen(
        [sys.executable, "-c", code, "--out", str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert p.stdout.readline() == "locked\n"
    return p


def end(p: subprocess.Popen) -> None:
    p.stdin.close()
    assert p.wait(10) == 0


def test_a_second_writer_is_refused_at_once_naming_the_holder(tmp_path):
    p = holder(tmp_path, what="run directory")
    try:
        started = time.monotonic()
        with pytest.raises(LockedError) as refused:
            WriterLock(tmp_path, "run directory").acquire()
        assert time.monotonic() - started < 2
        message = str(refused.value)
        assert "\n" not in message
        for part in (
            str(tmp_path),
            "run directory",
            f"process {p.pid} ",
            socket.gethostname(),
            "python -c",
            "since ",
        ):
            assert part in message
    finally:
        end(p)
    with WriterLock(tmp_path) as lock:  # released cleanly: no takeover
        assert lock.took_over is None and lock.note is None
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    assert (tmp_path / ".lock").read_text() == ""


def test_the_same_process_cannot_hold_a_folder_twice(tmp_path):
    with WriterLock(tmp_path):
        with pytest.raises(LockedError, match=f"process {os.getpid()} "):
            WriterLock(tmp_path).acquire()


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path):
    p = holder(tmp_path, what="run directory")
    p.kill()
    assert p.wait(10) == -signal.SIGKILL
    with WriterLock(tmp_path, "run directory") as lock:
        assert lock.took_over is not None and lock.took_over.pid == p.pid
        assert f"took over the lock of dead process {p.pid} on {socket.gethostname()}" in lock.note


def test_parts_of_one_store_proceed_but_the_same_part_is_refused(tmp_path):
    p = holder(tmp_path, what="feature store", part=(0, 2))
    try:
        with WriterLock(tmp_path, "feature store", part=(1, 2)) as other:
            assert other.note is None
        with pytest.raises(LockedError, match=f"part 0/2 of this feature store .* process {p.pid} "):
            WriterLock(tmp_path, "feature store", part=(0, 2)).acquire()
        with pytest.raises(LockedError, match=f"process {p.pid} "):
            WriterLock(tmp_path, "feature store").acquire()
        with pytest.raises(LockedError, match="same N"):
            WriterLock(tmp_path, "feature store", part=(2, 3)).acquire()
    finally:
        end(p)
    with WriterLock(tmp_path, "feature store"):  # all parts ended
        pass


def test_the_ranks_of_one_job_join_its_rank_0(tmp_path):
    p = holder(tmp_path, what="run directory", job=("job-a", 0))
    try:
        WriterLock(tmp_path, job=Job("job-a", 1)).acquire().release()
        with pytest.raises(LockedError, match=f"process {p.pid} "):
            WriterLock(tmp_path, job=Job("job-b", 0)).acquire()
        with pytest.raises(LockedError, match=f"process {p.pid} "):
            WriterLock(tmp_path, job=Job("job-b", 1), wait_s=0.3).acquire()
    finally:
        end(p)
    with pytest.raises(LockedError, match="waited 0.2 s for its rank 0"):
        WriterLock(tmp_path, job=Job("job-a", 1), wait_s=0.2).acquire()


def test_job_from_torchrun_environment():
    assert Job.from_env({}) is None
    assert Job.from_env({"WORLD_SIZE": "1", "RANK": "0"}) is None
    env = {
        "WORLD_SIZE": "4",
        "RANK": "2",
        "TORCHELASTIC_RUN_ID": "none",
        "MASTER_ADDR": "node7",
        "MASTER_PORT": "29500",
    }
    assert Job.from_env(env) == Job("torchrun none@node7:29500", 2)
    assert Job.from_env(dict(env, MASTER_PORT="29501")).id != Job.from_env(env).id


def test_an_invalid_part_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"0 <= k < n"):
        WriterLock(tmp_path, part=(2, 2))
