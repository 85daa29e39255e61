"""Progress output of every command line: tqdm bars on a terminal, plain
lines with rate and ETA when the output goes to a file or a pipe (a bar's
carriage returns and cursor moves make a log unreadable), nothing with
``--quiet``."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

#: Seconds between two progress lines in a log.
LINE_EVERY_S = 10.0


def interactive(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default: stderr, where progress goes) is a terminal."""
    stream = sys.stderr if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)())


def write_line(text: str, file: TextIO | None = None) -> None:
    """Writes ``text`` and its newline to ``file`` (default: stdout) in one
    call, and flushes.

    ``print`` writes the text and the newline separately, and with an
    unbuffered stream (``PYTHONUNBUFFERED``, ``-u``) each is its own system
    call, between which a split worker writing the same log can put its
    own line; one write of a line shorter than a pipe's buffer arrives
    whole.

    Parameters
    ----------
    text : str
        One line, without its newline.
    file : text stream, optional
        Where it goes; stdout when None.
    """
    stream = sys.stdout if file is None else file
    stream.write(text + "\n")
    stream.flush()


def duration(seconds: float) -> str:
    """``h:mm:ss`` (``m:ss`` under an hour)."""
    return tqdm.format_interval(max(0.0, seconds))


def eta(done: float, total: float, elapsed: float) -> str:
    """The time left at the rate so far, or ``?`` before anything is done."""
    return duration(elapsed * (total - done) / done) if done > 0 else "?"


class Lines:
    """A counter shown as plain lines: one every :data:`LINE_EVERY_S`
    seconds at most and one at the end, each with the count, the rate and
    the ETA. The subset of tqdm's interface the commands use."""

    def __init__(
        self, total: int, desc: str, unit: str, file: TextIO | None = None, every_s: float = LINE_EVERY_S
    ):
        self.total, self.desc, self.unit, self.file = total, desc, unit, file
        self.every_s = every_s
        self.n = 0
        self.postfix = ""
        self.start = self.last = time.perf_counter()

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.perf_counter()
        if now - self.last >= self.every_s or self.n >= self.total:
            self.last = now
            self._line(now - self.start)

    def _line(self, elapsed: float) -> None:
        rate = self.n / elapsed if elapsed > 0 else 0.0
        extra = f", {self.postfix}" if self.postfix else ""
        write_line(
            f"{self.desc}: {self.n}/{self.total} {self.unit}s ({100 * self.n / max(1, self.total):.0f}%), "
            f"{rate:.1f} {self.unit}s/s, ETA {eta(self.n, self.total, elapsed)}{extra}",
            self.file or sys.stderr,
        )

    def close(self) -> None:
        pass


def counter(total: int, desc: str, unit: str, quiet: bool = False) -> tqdm | Lines:
    """Progress of ``total`` items on stderr: a bar on a terminal, lines in
    a log, nothing when ``quiet``."""
    if quiet:
        return tqdm(total=total, disable=True)
    if interactive():
        return tqdm(total=total, desc=desc, unit=unit)
    return Lines(total, desc, unit)
