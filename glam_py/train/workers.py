"""Splits trained side by side in worker processes, each on its share of the
CPU threads (``--workers``).

Two small trainings on one core each beat one training on two cores: a
GLAM step at batch 32 does not keep two threads busy (bf16 on 2 cores: two
1-thread processes 1.42x the windows per second of one 2-thread process;
fp32 1.31x; docs/benchmarks.md, "Split workers"). Each split is trained
exactly as alone (its own seed, state file and results), so a worker's
split equals the same split trained in the main process up to the
thread count's rounding.

Workers are forked by a ``forkserver``: a fresh process that imports torch
and this module once, and is started as the run begins
(:func:`start_forkserver`), so that its imports overlap the main process's
featurising and each worker starts ready, where spawned workers each
imported torch after it (about 1 s of a 30 s protocol). The main process
itself is never forked: it has already run the Rust frontend's and torch's
thread pools, which a forked child would inherit broken. Each worker opens
the run's stores itself (read with positioned reads, so the pages are
shared through the page cache).
"""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.forkserver
import os
import select
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Callable, Sequence

import torch

from glam_py.store import FeatureStore
from glam_py.train.config import RunConfig
from glam_py.train.data import load_corpora
from glam_py.train.job import Job, save_training, train_job
from glam_py.train.progress import Lines, Silent

# Worker processes for "auto" at most: more only add memory (each holds
# torch and a model) once every core has its own training.
MAX_AUTO_WORKERS = 8


def auto_workers(device: str, threads: int, pending: int) -> int:
    """How many workers ``"auto"`` starts: on the CPU one per thread the
    run may use, at most one per pending training and
    :data:`MAX_AUTO_WORKERS`; elsewhere 1 (an accelerator trains one split
    per process faster, and ``--parallel-splits`` batches splits there)."""
    if torch.device(device).type != "cpu":
        return 1
    return max(1, min(threads, pending, MAX_AUTO_WORKERS))


def resolve_workers(value: int | str, device: str, threads: int, pending: int) -> int:
    """``value`` (a count, or "auto": :func:`auto_workers`) as a count, at
    most one per pending training."""
    if value == "auto":
        return auto_workers(device, threads, pending)
    return max(1, min(int(value), pending))


def worker_count(run: RunConfig, world_size: int, device: str, threads: int, pending: int) -> int:
    """How many worker processes train ``pending`` trainings: 1 (the main
    process trains) under torchrun and with ``--parallel-splits``, else
    :func:`resolve_workers`."""
    if world_size > 1 or run.parallel_splits != 1:
        return 1
    return resolve_workers(run.workers, device, threads, pending)


# One worker's state: set by _start, read by _train.
_worker: dict = {}


def _context() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def start_forkserver() -> None:
    """Starts the process that forks the split workers now, rather than when
    the first worker is asked for; it imports torch and this module in the
    background (about a second) while the caller goes on."""
    _context()
    multiprocessing.forkserver.ensure_running()


def _die_with_main(main: int) -> None:
    """Ends this worker the moment the main process ends, however it ends,
    so that a ``kill -9`` of a run leaves no worker writing its run
    directory after the lock has gone (a rerun takes the lock over at
    once). A thread waits on the main process's pidfd (Linux 5.3 and
    later; elsewhere it looks every half second). The parent-death signal
    cannot serve: a worker's parent is the forkserver, which outlives the
    main process for as long as workers hold its pipe."""
    try:
        pidfd = os.pidfd_open(main)
    except ProcessLookupError:  # it died before the worker started
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd here
        pidfd = None

    def watch() -> None:
        if pidfd is not None:
            select.select([pidfd], [], [])
        else:
            while _alive(main):
                time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="glam-main-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _exit_at_once() -> None:
    """A worker's last act: its results have gone to the main process by
    the time the interpreter exits, and tearing torch's modules down (about
    half a second) would only hold up the run's end, which waits for it."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _start(
    main: int, stores: list[tuple[str, tuple[str, ...]]], normalize: str, threads: int, lines: bool
) -> None:
    _die_with_main(main)
    atexit.register(_exit_at_once)
    torch.set_num_threads(threads)
    opened = [(name, [FeatureStore(root) for root in roots]) for name, roots in stores]
    _worker.update(data=load_corpora(opened, normalize), features=opened[0][1][1].config, lines=lines)


def _train(run: RunConfig, job: Job, run_dir: str, device: str) -> str:
    progress = Lines() if _worker["lines"] else Silent()
    progress.plan(1, 0)
    try:
        out = train_job(run, job, _worker["data"], Path(run_dir), device, progress)
    except KeyboardInterrupt:
        # The main process reports the interruption; the state file is kept.
        os._exit(130)
    return save_training(run, job, Path(run_dir), _worker["data"], _worker["features"], out)


def train_in_workers(
    run: RunConfig,
    pending: list[Job],
    stores: Sequence[tuple[str, Sequence[Path]]],
    normalize: str,
    run_dir: Path,
    device: str,
    workers: int,
    threads: int,
    progress: Silent,
    log: Callable[[str], None],
) -> None:
    """Trains ``pending`` in ``workers`` processes of ``threads //
    workers`` threads each (at least 1), each training saved as it
    finishes and logged. ``stores``: per corpus, its name and the roots
    of its training and test stores, then of its training store at each
    speed of speed perturbation (:func:`glam_py.train.run.corpus_stores`);
    ``normalize``: the windows' normalisation (``TrainConfig.normalize``).

    Raises
    ------
    Exception
        The first training's error (a NaN loss names its split), after
        the other workers' current trainings are stopped.
    """
    context = _context()
    per_worker = max(1, threads // workers)
    log(
        f"training {len(pending)} splits in {workers} worker processes of "
        f"{per_worker} thread{'s' if per_worker > 1 else ''} each"
    )
    lines = isinstance(progress, Lines)
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start,
        initargs=(
            os.getpid(),
            [(name, tuple(map(str, roots))) for name, roots in stores],
            normalize,
            per_worker,
            lines,
        ),
    ) as pool:
        running = {pool.submit(_train, run, job, str(run_dir), device) for job in pending}
        try:
            while running:
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    log(future.result())
                    progress.end_training()
        except BaseException:
            for future in running:
                future.cancel()
            # The executor has no public way to stop running tasks (3.14
            # adds terminate_workers); their state files are kept.
            for process in list(pool._processes.values()):
                process.terminate()
            raise
