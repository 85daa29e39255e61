"""Where the time of one training split goes (issue 14): start-up, the
store, data (gathering, batching, mixup), forward, loss, backward, the
optimiser, the per-epoch evaluation, the resumable state, and what is left
(the loop's Python, batching, progress), as a markdown table.

    python -m benches.profile_split --corpus emodb --epochs 5 --threads 2

It times the trainer from outside, by wrapping the functions
``glam_py.train.trainer`` calls, so the trainer carries no timing code and
an older trainer can be profiled the same way (with that checkout's
glam_py first on PYTHONPATH); settings that an older
TrainConfig lacks are passed only when given. The wrappers add a few
microseconds per call.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import collections  # noqa: E402
import functools  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from glam_py import models  # noqa: E402
from glam_py.train import trainer  # noqa: E402
from glam_py.train.config import PAPER  # noqa: E402
from glam_py.train.data import load_utterances  # noqa: E402
from glam_py.train.protocol import random_splits  # noqa: E402
from glam_py.train.run import CorpusSource, stores_for  # noqa: E402
from tests.support.inputs import corpora_root  # noqa: E402

IMPORTED = time.perf_counter()


class Timers:
    """Seconds per component, and wrappers that add to them."""

    def __init__(self):
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self.calls: dict[str, int] = collections.defaultdict(int)

    def wrap(self, name: str, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start
                self.calls[name] += 1

        return timed


def instrument(timers: Timers) -> None:
    """Wraps what the trainer calls; forward and backward are timed by hooks
    on the model and on the optimiser's step (backward is the span from the
    loss to the step: zero_grad and backward)."""
    marks: dict[str, float] = {}

    def build(*args, **kwargs):
        model = timers.wrap("model build", original_build)(*args, **kwargs)

        def before(module, inputs):
            marks["forward"] = time.perf_counter()

        def after(module, inputs, output):
            key = "forward (training)" if module.training else "evaluation: forward"
            timers.seconds[key] += time.perf_counter() - marks["forward"]
            timers.calls[key] += 1

        model.register_forward_pre_hook(before)
        model.register_forward_hook(after)
        return model

    def loss(*args, **kwargs):
        out = timers.wrap("loss", original_loss)(*args, **kwargs)
        marks["loss"] = time.perf_counter()
        return out

    def optimizer(*args, **kwargs):
        opt = original_optimizer(*args, **kwargs)
        step = opt.step

        def timed_step(*a, **k):
            start = time.perf_counter()
            timers.seconds["backward"] += start - marks["loss"]
            timers.calls["backward"] += 1
            out = step(*a, **k)
            timers.seconds["optimiser step"] += time.perf_counter() - start
            timers.calls["optimiser step"] += 1
            return out

        opt.step = timed_step
        return opt

    original_loss, original_optimizer, original_build = trainer.mixup_loss, trainer._optimizer, models.build
    models.build = build
    trainer.mixup_loss = loss
    trainer._optimizer = optimizer
    if hasattr(trainer, "stack"):  # an older trainer stacked each split's windows in memory
        trainer.stack = timers.wrap("data: stack windows", trainer.stack)
    else:
        trainer.WindowRows.gather = timers.wrap("data: gather windows", trainer.WindowRows.gather)
    trainer.mix = timers.wrap("data: mixup", trainer.mix)
    trainer.evaluate = timers.wrap("evaluation: metrics", trainer.evaluate)
    trainer.save_tensors = timers.wrap("resumable state: save", trainer.save_tensors)
    # The evaluation's own batching and pooling, around its forward passes.
    scorer = "_scores" if hasattr(trainer, "_scores") else "predict_utterances"
    setattr(trainer, scorer, timers.wrap("evaluation: all", getattr(trainer, scorer)))


def table(timers: Timers, split_s: float, startup: dict[str, float]) -> str:
    s = dict(timers.seconds)
    if "evaluation: all" in s:
        # Evaluation's forward passes are inside "evaluation: all"; the
        # stacking of an older trainer's evaluation is in "data: stack windows".
        s["evaluation: batching, pooling"] = s.pop("evaluation: all") - s.get("evaluation: forward", 0.0)
    named = sum(v for k, v in s.items() if k != "model build")
    s["other (batch gathering, loop Python, progress)"] = split_s - named - s.get("model build", 0.0)
    lines = ["| part | seconds | share of the split | calls |", "|---|---|---|---|"]
    for key in ["imports (torch, glam_py)", "featurising / opening the stores"]:
        lines.append(f"| {key} (before the split) | {startup[key]:.2f} | | |")
    for key, value in sorted(s.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {key} | {value:.3f} | {100 * value / split_s:.1f}% | {timers.calls.get(key, '')} |")
    lines.append(f"| **the split, in all** | **{split_s:.2f}** | 100% | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--corpus",
        choices=["emodb", "demo"],
        default="emodb",
        help="EmoDB from the shared corpora (GLAM_CORPORA), or the synthetic demo corpus.",
    )
    p.add_argument("--model", default="glam", help="model name (default glam).")
    p.add_argument("--epochs", type=int, default=5, help="epochs (default 5).")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2).")
    p.add_argument("--precision", default=None, help="auto, fp32 or bf16 (default: the trainer's).")
    p.add_argument("--eval-every", type=int, default=None, help="(default: the trainer's).")
    p.add_argument("--cache", type=Path, default=Path("data/cache"), help="feature cache (data/cache).")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    values = {"epochs": args.epochs, "features": {"pad": "tile"}}
    for key in ("precision", "eval_every"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    cfg = PAPER.updated(values)
    if args.corpus == "emodb":
        source = CorpusSource("emodb", corpora_root() / "emodb")
    else:
        from glam_py.corpora.demo import generate_demo_corpus

        root = Path(tempfile.mkdtemp()) / "demo"
        generate_demo_corpus(root, progress=False)
        source = CorpusSource("demo", root)
    started = time.perf_counter()
    train_store, test_store = stores_for(source, cfg, args.cache, args.threads, lambda m: None)
    data = load_utterances(train_store, test_store)
    startup = {
        "imports (torch, glam_py)": IMPORTED - STARTED,
        "featurising / opening the stores": time.perf_counter() - started,
    }
    split = random_splits(list(data.labels), 1, 1, False)[0]
    timers = Timers()
    instrument(timers)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        out = trainer.train_split(args.model, cfg, data, split, state_path=Path(tmp) / "state.pt")
        split_s = time.perf_counter() - started
    m = out["metrics"]
    print(
        f"{args.model} on {args.corpus}, 1 split ({len(split.train)} training, {len(split.test)} test "
        f"utterances), {args.epochs} epochs, {args.threads} threads, precision "
        f"{m.get('precision', 'fp32 (bf16 off)')}; WA {m['WA']:.1f}"
    )
    print(table(timers, split_s, startup))
    return 0


if __name__ == "__main__":
    sys.exit(main())
