"""Several splits at once (``--parallel-splits K``) on the CPU: training
throughput (windows per second, summed over the K splits) of K = 2, 4 and 8
splits trained as one batched network (glam_py.train.parallel), against
K = 1, one split trained alone the trainer's way; every K of a model
interleaved round by round in one run (benchutil.interleave), batch 32, 2
threads.

    python -m pytest benches/test_parallel_splits_speed.py --benchmark-json=/tmp/parallel.json

Each test records, per K, the median step time and the speed-up over K = 1
(``speedup_K<k>`` in ``extra_info``) and prints them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from benches.benchutil import interleave, record
from glam_py import models
from glam_py.train.config import TrainConfig
from glam_py.train.mixup import mixup_loss
from glam_py.train.parallel import StackedNetwork, train_step
from glam_py.train.trainer import _optimizer

BATCH = 32
SPLITS = (1, 2, 4, 8)


def split_steps(model: str, k: int, device: str = "cpu", batch: int = BATCH) -> Callable[[], None]:
    """One training step of ``k`` splits of ``model`` (seeds 0..k-1, Adam,
    the paper's settings): for k = 1 the trainer's own step on one model,
    else one step of :func:`glam_py.train.parallel.train_step`. CUDA steps
    end with a synchronize."""
    cfg = TrainConfig()
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(k, batch, 1, 26, 63, generator=generator).to(device)
    y = torch.randint(0, 4, (k, batch), generator=generator).to(device)
    nets = []
    for seed in range(k):
        torch.manual_seed(seed)
        nets.append(models.build(model, device=device).to(device).train())
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    if k == 1:
        net, optimizer = nets[0], _optimizer(nets[0], cfg, device)

        def alone():
            loss = mixup_loss(net(x[0]).float(), y[0], y[0], 1.0)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            sync()

        return alone
    stacked, optimizer = StackedNetwork(nets), _optimizer(nn.ModuleList(nets), cfg, device)
    batches = {i: (x[i], y[i], y[i], 1.0) for i in range(k)}

    def together():
        train_step(stacked, optimizer, batches, device)
        sync()

    return together


def measure(
    benchmark, model: str, device: str, rounds: int, splits: tuple[int, ...] = SPLITS
) -> dict[int, float]:
    """Every K of ``splits`` (the first 1) for ``model``, interleaved;
    records and returns the speed-up (summed windows per second over
    K = 1's) per K."""
    steps = {f"K{k}": split_steps(model, k, device) for k in splits}
    times = interleave(steps, rounds)
    medians = {k: float(np.median(times[f"K{k}"])) for k in splits}
    speedups = {k: (k * BATCH / medians[k]) / (BATCH / medians[1]) for k in splits}
    record(benchmark, "info", splits[-1] * BATCH, "windows")  # the timed row: the largest K
    benchmark.extra_info.update({f"step_s_K{k}": medians[k] for k in splits})
    benchmark.extra_info.update({f"speedup_K{k}": speedups[k] for k in splits})
    benchmark.extra_info.update({f"windows_per_s_K{k}": k * BATCH / medians[k] for k in splits})
    print(
        f"\n{model} on {device}: "
        + ", ".join(f"K={k}: {k * BATCH / medians[k]:.0f} windows/s ({speedups[k]:.2f}x)" for k in splits)
    )
    benchmark.pedantic(steps[f"K{splits[-1]}"], rounds=1)
    return speedups


@pytest.fixture(autouse=True)
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


@pytest.mark.benchmark(group="Several splits at once: training throughput over K (batch 32, 2 threads)")
@pytest.mark.parametrize("model,rounds", [("glam", 6), ("apcnn", 8), ("mhcnn", 8)])
def test_parallel_splits_cpu(benchmark, model, rounds):
    measure(benchmark, model, "cpu", rounds)
