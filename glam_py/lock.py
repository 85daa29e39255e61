"""One writer per folder: an exclusive lock on a run directory or a feature
store, so that a second process that would write the same folder is
refused at once, with a message naming the process that holds it.

    with WriterLock(run_dir, what="run directory") as lock:
        if lock.note:
            print(lock.note)  # "took over the lock of dead process ..."
        ...

The lock is ``flock(2)`` on ``FOLDER/.lock``, held open for as long as the
writer works. The kernel drops a flock when the last descriptor of its
open file closes, also when the process is killed with SIGKILL, so a lock
never outlives its holder and nothing has to guess from pids or ages
whether a holder is still alive. The file's content, a JSON record of the
holder (pid, host, command line, when it took the lock, job), only serves
the messages: a record found when the lock is free was left by a holder
that died without releasing, which is reported as a takeover.

The declared parts of one job are the exception:

- Parts of a sharded store (``featurize --shard K/N``, or torchrun's ranks
  writing their parts): ``WriterLock(store, part=(k, n))`` locks
  ``.lock.part-K-of-N`` alone, plus a shared lock on ``.lock``. Different
  parts of one store proceed side by side; two processes writing the same
  part, a part count N that differs from that of a live part, and a
  whole-store writer (no ``part``) against any part are refused.
- The ranks of one torchrun job writing one run directory:
  ``WriterLock(run_dir, job=Job.from_env())``. Rank 0 takes the lock and
  records the job's id; the other ranks take nothing but wait (up to
  ``JOIN_WAIT_S``) until the lock is held by their own job's rank 0, so no
  rank writes into a folder another job holds. Where the ranks already
  share a process group, locking on rank 0 and a barrier does the same.

Shared filesystems: on NFS, Linux emulates flock with whole-file POSIX
locks that the server arbitrates, so the exclusion holds between machines
(unless mounted with ``local_lock=flock`` or ``nolock``, when it holds only
within one machine); a client that dies keeps its locks until its lease
expires on the server (about 90 s on NFSv4), so a run restarted on another
machine right after a crash may be refused for that long. Lustre without
``-o flock``, and some FUSE and SMB mounts, have no working flock: there the
lock is skipped with a note saying so (the writer runs unprotected) rather
than refusing every run.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator, Mapping

LOCK_NAME = ".lock"
POLL_S = 0.05
# Even "no waiting" tries for this long: other writers probe a lock for
# microseconds to name its holder, which must not refuse a legitimate taker.
GRACE_S = 0.25
# How long a rank above 0 waits for its job's rank 0 to take the lock.
JOIN_WAIT_S = 120.0
# Errors of filesystems that offer no (working) flock.
_UNSUPPORTED = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}
# Errors of a folder that cannot be written.
_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}


class LockedError(RuntimeError):
    """Another live process holds the lock of the folder."""


class NotWritableError(PermissionError):
    """The folder cannot be written (read-only filesystem, no permission);
    ``str()`` is one line naming it. Raised on taking the lock, so before
    any work."""

    def __str__(self) -> str:
        return self.strerror


@dataclass(frozen=True)
class Job:
    """The declared ranks of one multi-process job (torchrun).

    Parameters
    ----------
    id : str
        The same for every rank of the job, different between jobs that can
        run at the same time.
    rank : int
        This process's rank; rank 0 takes the lock, the others join it.
    """

    id: str
    rank: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Job | None:
        """This process's torchrun job, or None outside one (or in a world
        of one). The id combines torchrun's run id, which is the literal
        "none" unless ``--rdzv-id`` or ``--standalone`` sets it, with the
        rendezvous address, which two live jobs cannot share."""
        env = os.environ if env is None else env
        if int(env.get("WORLD_SIZE", "1")) <= 1:
            return None
        job = (
            f"torchrun {env.get('TORCHELASTIC_RUN_ID', 'none')}"
            f"@{env.get('MASTER_ADDR', '?')}:{env.get('MASTER_PORT', '?')}"
        )
        return cls(job, int(env.get("RANK", "0")))


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as recorded in its file."""

    pid: int
    host: str
    argv: tuple[str, ...]
    started: str  # ISO 8601 local time with offset: when the lock was taken
    job: str | None = None

    @classmethod
    def this_process(cls, job: str | None = None) -> Holder:
        # orig_argv keeps "python -m glam_py.train", where argv has a path.
        argv = list(getattr(sys, "orig_argv", sys.argv))
        if argv:
            argv[0] = Path(argv[0]).name
        return cls(
            os.getpid(),
            socket.gethostname(),
            tuple(argv),
            datetime.now().astimezone().isoformat(timespec="seconds"),
            job,
        )

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        """The record in ``text``, or None where it is empty or unreadable
        (a holder killed while writing it)."""
        try:
            d = json.loads(text)
            return cls(int(d["pid"]), str(d["host"]), tuple(d["argv"]), str(d["started"]), d.get("job"))
        except (ValueError, KeyError, TypeError):
            return None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    def describe(self, limit: int = 60) -> str:
        """``process 1234 on host (`python -m glam_py.train ...`, since ...)``."""
        command = " ".join(" ".join(self.argv).split())  # one line, whatever the arguments hold
        if len(command) > limit:
            command = command[: limit - 3] + "..."
        return f"process {self.pid} on {self.host} (`{command}`, since {self.started})"

    def ended_here(self) -> bool:
        """Whether this holder ran on this machine and has exited."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            pass
        return False


def _open(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o664)


def _try(fd: int, mode: int) -> bool | None:
    """flock without blocking: True when taken, False when held elsewhere,
    None where the filesystem offers no flock."""
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as e:
        if e.errno in _UNSUPPORTED:
            return None
        raise


def _read(fd: int) -> str:
    return os.pread(fd, 1 << 16, 0).decode("utf-8", "replace")


def _record(fd: int, holder: Holder | None) -> None:
    os.ftruncate(fd, 0)
    if holder is not None:
        os.pwrite(fd, holder.to_json().encode(), 0)
        # Pushed to the file server, so other machines can name the holder.
        os.fsync(fd)


def _held_by(path: Path) -> Holder | None:
    """The recorded holder of the lock file ``path`` if a live process holds
    it exclusively, else None."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        taken = _try(fd, fcntl.LOCK_SH)
        if taken is not False:
            if taken:
                fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        return Holder.parse(_read(fd))
    finally:
        os.close(fd)


def _part_files(folder: Path) -> list[tuple[Path, int, int]]:
    found = []
    for p in folder.glob(f"{LOCK_NAME}.part-*-of-*"):
        k, _, n = p.name[len(LOCK_NAME) + len(".part-") :].partition("-of-")
        if k.isdigit() and n.isdigit():
            found.append((p, int(k), int(n)))
    return sorted(found)


class WriterLock:
    """An exclusive writer lock on ``folder``, taken on entering the context
    (or by :meth:`acquire`) and released on leaving it.

    Parameters
    ----------
    folder : str or Path
        The folder written (created if missing); the lock files live in it.
    what : str, default "folder"
        What the folder is ("run directory", "feature store"), for messages.
    part : (int, int), optional
        Part ``k`` of ``n`` (0-based) of a sharded store: only that part is
        locked, so other parts of the same store may be written alongside.
    job : Job, optional
        The job this process is a rank of (:meth:`Job.from_env`): rank 0
        locks, the other ranks join rank 0's lock without taking it.
    wait_s : float, default 0
        How long to wait for a held lock before refusing, in seconds (for a
        joining rank: how long to wait for rank 0, default ``JOIN_WAIT_S``).

    Attributes
    ----------
    took_over : Holder or None
        The dead process whose lock was taken over, if any.
    note : str or None
        A one-line message for the user when the lock was taken over or
        could not be taken at all (filesystem without flock), else None.

    Raises
    ------
    LockedError
        From :meth:`acquire`, when a live process holds the lock (or, for a
        part, a conflicting lock); the message names the folder and holder.
    NotWritableError
        From :meth:`acquire`, when the folder cannot be written (read-only
        filesystem, no permission).
    ValueError
        When ``part`` is not a valid ``(k, n)``.
    """

    def __init__(
        self,
        folder: str | Path,
        what: str = "folder",
        *,
        part: tuple[int, int] | None = None,
        job: Job | None = None,
        wait_s: float | None = None,
    ):
        if part is not None and not (part[1] >= 1 and 0 <= part[0] < part[1]):
            raise ValueError(f"part must be (k, n) with 0 <= k < n, got {part}")
        self.folder = Path(folder)
        self.what = what
        self.part = part
        self.job = job
        self.joining = job is not None and job.rank != 0
        self.wait_s = (JOIN_WAIT_S if self.joining else 0.0) if wait_s is None else wait_s
        self.took_over: Holder | None = None
        self.note: str | None = None
        self._fds: list[tuple[int, bool]] = []  # descriptor, holds our record

    @property
    def path(self) -> Path:
        """The lock file this writer holds exclusively."""
        if self.part is None:
            return self.folder / LOCK_NAME
        return self.folder / f"{LOCK_NAME}.part-{self.part[0]}-of-{self.part[1]}"

    def acquire(self) -> WriterLock:
        """Takes the lock (see the class's Raises); returns self."""
        self.took_over = self.note = None
        deadline = time.monotonic() + max(self.wait_s, GRACE_S)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if self.joining:
                self._join(deadline)
            elif self.part is None:
                self._take(self.path, fcntl.LOCK_EX, deadline)
            else:
                self._take(self.folder / LOCK_NAME, fcntl.LOCK_SH, deadline)
                self._take(self.path, fcntl.LOCK_EX, deadline)
                self._check_part_count()
        except BaseException as e:
            self.release()
            if isinstance(e, OSError) and e.errno in _NOT_WRITABLE:
                raise NotWritableError(
                    e.errno, f"{self.folder}: cannot write to this {self.what} ({os.strerror(e.errno)})"
                ) from e
            raise
        return self

    def release(self) -> None:
        """Clears this writer's record and drops its locks (idempotent)."""
        for fd, recorded in reversed(self._fds):
            if recorded:
                # An empty file tells the next taker this holder ended cleanly.
                _record(fd, None)
            os.close(fd)
        self._fds.clear()

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def _take(self, path: Path, mode: int, deadline: float) -> None:
        fd = _open(path)
        self._fds.append((fd, False))
        while True:
            taken = _try(fd, mode)
            if taken is None:
                self.note = self._unsupported()
                return
            if taken:
                break
            if time.monotonic() >= deadline:
                raise LockedError(self._refusal(path))
            time.sleep(POLL_S)
        left = _read(fd)
        if mode == fcntl.LOCK_EX:
            _record(fd, Holder.this_process(self.job.id if self.job else None))
            self._fds[-1] = (fd, True)
        elif left:
            # Shared holders write no record: one found is a dead exclusive
            # holder's, cleared so that no refusal names it later.
            _record(fd, None)
        if left:
            self.took_over = Holder.parse(left)
            dead = self.took_over.describe() if self.took_over else "process (its record unreadable)"
            self.note = f"{self.folder}: took over the lock of dead {dead}"

    def _join(self, deadline: float) -> None:
        fd = _open(self.folder / LOCK_NAME)
        try:
            while True:
                taken = _try(fd, fcntl.LOCK_SH)
                if taken is None:
                    self.note = self._unsupported()
                    return
                if taken:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    holder = None
                else:
                    holder = Holder.parse(_read(fd))
                    if holder is not None and holder.job == self.job.id:
                        return
                if time.monotonic() >= deadline:
                    if holder is None:
                        raise LockedError(
                            f"{self.folder}: rank {self.job.rank} of job {self.job.id} waited "
                            f"{self.wait_s:g} s for its rank 0 to lock this {self.what}"
                        )
                    raise LockedError(self._refusal(self.folder / LOCK_NAME))
                time.sleep(POLL_S)
        finally:
            os.close(fd)

    def _check_part_count(self) -> None:
        for path, k, n in _part_files(self.folder):
            if n != self.part[1]:
                holder = _held_by(path)
                if holder is not None:
                    raise LockedError(
                        f"{self.folder}: part {self.part[0]}/{self.part[1]} of this {self.what} "
                        f"would overlap part {k}/{n}, written by {self._who(holder)}; "
                        f"all parts must use the same N"
                    )

    def _unsupported(self) -> str:
        return (
            f"{self.folder}: not locked, the filesystem offers no flock; "
            f"nothing stops a second writer of this {self.what}"
        )

    def _refusal(self, path: Path) -> str:
        """One line naming the folder and who holds ``path``."""
        for _ in range(5):
            holders = self._holders(path)
            if holders:
                break
            time.sleep(POLL_S)  # taken a moment ago, the record not yet written
        waited = f" (still after {self.wait_s:g} s)" if self.wait_s > GRACE_S else ""
        who = ", ".join(self._who(h) for h in holders) or "a process that left no record"
        mine = f"part {self.part[0]}/{self.part[1]} of " if self.part and path == self.path else ""
        return f"{self.folder}: {mine}this {self.what} is being written by {who}{waited}; wait for it to end or stop it"

    def _holders(self, path: Path) -> list[Holder]:
        holder = _held_by(path)
        if holder is not None or path != self.folder / LOCK_NAME:
            return [holder] if holder else []
        # The main lock held but by no exclusive holder: parts hold it.
        return [h for p, _, _ in _part_files(self.folder) if (h := _held_by(p)) is not None]

    @staticmethod
    def _who(holder: Holder) -> str:
        gone = "; it has ended, so a process it started still holds the lock" if holder.ended_here() else ""
        return holder.describe() + gone


@contextmanager
def writing(
    folder: str | Path,
    what: str,
    *,
    part: tuple[int, int] | None = None,
    job: Job | None = None,
    log: Callable[[str], None] = print,
) -> Iterator[WriterLock]:
    """Holds :class:`WriterLock` ``(folder, what, part=part, job=job)`` for
    the block, after logging its note (a takeover) as one line.

    Raises
    ------
    LockedError, NotWritableError
        As :meth:`WriterLock.acquire`.
    """
    with WriterLock(folder, what, part=part, job=job) as lock:
        if lock.note:
            log(lock.note)
        yield lock
