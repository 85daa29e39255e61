"""Progress and log lines reach a log whole: split workers write to the
same stdout as the main process, so a line must leave in one write."""

import io
import sys

from glam_py import progress
from glam_py.train import progress as train_progress


class Writes(io.StringIO):
    """A stream that keeps each write call apart."""

    def __init__(self):
        super().__init__()
        self.calls: list[str] = []

    def write(self, s: str) -> int:
        self.calls.append(s)
        return super().write(s)


def _whole_lines(calls: list[str]) -> bool:
    return bool(calls) and all(c.endswith("\n") and c.count("\n") == 1 for c in calls if c)


def test_a_training_log_line_leaves_in_one_write(monkeypatch):
    out = Writes()
    monkeypatch.setattr(sys, "stdout", out)
    lines = train_progress.for_output(quiet=False)  # stdout here is no terminal
    assert isinstance(lines, train_progress.Lines)
    lines.log("glam seed1: WA 50.00 UA 33.33")
    lines.plan(1, 0)
    lines.start_training("glam seed1", 2, 0)
    lines.start_epoch(100)
    lines.end_epoch("loss 1.234")
    assert _whole_lines(out.calls), out.calls
    assert out.getvalue().splitlines()[1].startswith("glam seed1 epoch 1/2: loss 1.234, ")


def test_a_counter_line_leaves_in_one_write():
    out = Writes()
    lines = progress.Lines(2, "featurising", "file", file=out, every_s=0.0)
    lines.update()
    lines.update()
    assert _whole_lines(out.calls) and len(out.calls) == 2, out.calls


def test_quiet_writes_nothing(monkeypatch):
    out = Writes()
    monkeypatch.setattr(sys, "stdout", out)
    train_progress.for_output(quiet=True).log("anything")
    assert out.calls == []
