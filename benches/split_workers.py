"""Why ``--workers``: training throughput (windows per second, summed) of one
GLAM training of 2 threads against two trainings of 1 thread each side by
side, in separate processes as the split workers run, round after round
(interleaved), batch 32, the trainer's step (autocast, fp32 loss, fused Adam).

    python -m benches.split_workers --precision bf16 --rounds 3

Each process times ``--steps`` steps after 5 warm-up steps; the side-by-side
rate is the sum of the two processes' rates.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from glam_py import models, precision
from glam_py.train.config import TrainConfig
from glam_py.train.trainer import _optimizer

BATCH = 32


def steps_per_s(threads: int, precision_name: str, steps: int) -> float:
    """Windows per second of ``steps`` GLAM training steps on ``threads`` threads."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = models.build("glam", precision=precision_name).train()
    optimizer = _optimizer(model, TrainConfig(), "cpu")
    x, y = torch.randn(BATCH, 1, 26, 63), torch.randint(0, 4, (BATCH,))

    def step():
        with precision.autocast(precision_name, "cpu"):
            logits = model(x)
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(logits.float(), y).backward()
        optimizer.step()

    for _ in range(5):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return BATCH * steps / (time.perf_counter() - start)


def in_processes(threads: int, copies: int, precision_name: str, steps: int) -> float:
    """The summed rate of ``copies`` processes of ``threads`` threads run at once."""
    command = [sys.executable, "-m", "benches.split_workers", "--child", str(threads)]
    command += ["--precision", precision_name, "--steps", str(steps)]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(copies)]
    return sum(float(p.communicate()[0]) for p in procs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--precision", choices=["fp32", "bf16"], default="bf16", help="(default bf16).")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3).")
    p.add_argument("--steps", type=int, default=40, help="timed steps per process (default 40).")
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        print(steps_per_s(args.child, args.precision, args.steps))
        return 0
    one, two = [], []
    for _ in range(args.rounds):
        one.append(in_processes(2, 1, args.precision, args.steps))
        two.append(in_processes(1, 2, args.precision, args.steps))
    a, b = statistics.median(one), statistics.median(two)
    print(
        f"GLAM {args.precision}, batch {BATCH}, median of {args.rounds} interleaved rounds: one 2-thread "
        f"training {a:.0f} windows/s; two 1-thread trainings side by side {b:.0f} windows/s "
        f"in all: {b / a:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
