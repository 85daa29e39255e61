"""Which GLAM form trains fastest on one thread, the thread count a split
worker runs at (``--workers``): the default form (channels_last, Winograd
under fp32, unfused) against NCHW, without Winograd and fused, GLAM
training steps at batch 32 (the trainer's fused Adam), the forms called in
turn (:func:`benches.benchutil.interleave`).

    .venv/bin/python -m benches.forms_one_thread --precision fp32 --rounds 4

The forms were chosen at 2 threads (benches/test_model_speed.py,
benches/test_precision_speed.py); this checks the choice holds at 1.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch
import torch.nn.functional as F

from benches.benchutil import interleave
from glam_py import models, precision
from glam_py.train.config import TrainConfig
from glam_py.train.trainer import _optimizer

BATCH = 32
FORMS = {
    "default": {},
    "channels_last, no Winograd": {"winograd": False},
    "NCHW": {"channels_last": False},
    "NCHW, no Winograd": {"channels_last": False, "winograd": False},
    "fused": {"fused": True},
    "fused, NCHW": {"fused": True, "channels_last": False},
}


def step_of(options: dict, precision_name: str, steps: int):
    """``steps`` GLAM training steps of the form ``options``, as one call."""
    torch.manual_seed(0)
    model = models.build("glam", precision=precision_name, **options).train()
    optimizer = _optimizer(model, TrainConfig(), "cpu")
    x, y = torch.randn(BATCH, 1, 26, 63), torch.randint(0, 4, (BATCH,))

    def run():
        for _ in range(steps):
            with precision.autocast(precision_name, "cpu"):
                logits = model(x)
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(logits.float(), y).backward()
            optimizer.step()

    return run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="(default fp32).")
    p.add_argument("--rounds", type=int, default=4, help="interleaved rounds (default 4).")
    p.add_argument("--steps", type=int, default=10, help="steps per form and round (default 10).")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    # Under bf16 the Winograd form is left out whatever is asked, so only
    # the layouts and fusion differ there.
    forms = FORMS if args.precision == "fp32" else {k: v for k, v in FORMS.items() if "Winograd" not in k}
    times = interleave(
        {name: step_of(o, args.precision, args.steps) for name, o in forms.items()}, args.rounds
    )
    rate = {name: BATCH * args.steps / statistics.median(t) for name, t in times.items()}
    print(
        f"GLAM training, batch {BATCH}, 1 thread, {args.precision}, median of {args.rounds} interleaved rounds"
    )
    print("| form | windows/s | against the default |")
    print("|---|---|---|")
    for name, r in rate.items():
        print(f"| {name} | {r:.1f} | {r / rate['default']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
