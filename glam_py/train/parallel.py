"""Several splits of one model trained as one batched network
(``--parallel-splits K``), each exactly as :func:`glam_py.train.trainer.train_split`
trains it alone.

Every split keeps its own module: its weights (initialised from its own
seed), its BatchNorm statistics, its data, batch order and mixup draws
(:func:`~glam_py.train.trainer.split_start`,
:func:`~glam_py.train.trainer.epoch_batches`) and its optimiser state.
A step stacks the splits' weights (``torch.stack``, differentiable back to
each split's own leaf tensors) and runs the model once under
``torch.func.vmap``: PyTorch's batching rules turn the K convolutions into
one grouped convolution and the K matrix products into one batched product,
so the per-operation overhead that dominates small models at batch 32 is
paid once for K splits. The losses of the splits are summed for one
backward pass; the splits share no weight, so each split's gradient is its
own loss's gradient, unchanged.

BatchNorm: the splits' running statistics live in one stacked tensor per
buffer, each module's buffer a view of its row. vmap's batch-norm rule
updates batched running statistics in place, row by row, as each module
would alone.

Ragged epochs: splits have different numbers of training windows, so their
epochs differ in batch count and last-batch size. Each step takes the next
batch of every split that still has one; splits whose batches have the same
size run together (one vmapped call per size: all K but for the last
batches). A split without a batch takes no part: its weights get no
gradient (``grad`` stays None), and the optimiser, which skips parameters
without a gradient, neither moves them nor counts the step. So the single
optimiser (:func:`~glam_py.train.trainer._optimizer` over all K modules:
Adam and SGD are elementwise) is per-split Adam or SGD, step counts
included. Epochs stay in lockstep, so every split has the same learning
rate at every step, as alone.

The recipe's ingredients train as alone: masks are drawn from each split's
own stream in :func:`~glam_py.train.trainer.epoch_batches`, each split's
loss takes its own class weights and the label smoothing, the learning rate
(warm-up, cosine) changes per epoch, and each split's moving average of
the weights is updated after each optimiser step it takes part in.

Refused: models that draw dropout masks (AACNN, Multi-scale + AA), whose
draws under vmap cannot be those of the split alone."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap

from glam_py import models, precision
from glam_py.checkpoints import load_tensors, save_tensors
from glam_py.train import heap
from glam_py.train.config import TrainConfig
from glam_py.train.data import Utterances
from glam_py.train.mixup import mixup_loss
from glam_py.train.progress import Silent
from glam_py.train.protocol import Split
from glam_py.train.trainer import (
    WeightAverage,
    _lr_after,
    _optimizer,
    end_epoch,
    epoch_batches,
    final_metrics,
    split_start,
)

# "auto" on CUDA: splits whose measured training-step memory fits in this
# share of the free memory, at most CUDA_MAX_SPLITS.
CUDA_MEMORY_SHARE = 0.5
CUDA_MAX_SPLITS = 32


def refusal(model_name: str, cfg: TrainConfig) -> str | None:
    """Why ``model_name`` cannot train batched under ``cfg`` (it draws
    dropout masks, its own or ``cfg.dropout``'s, which vmap cannot draw as
    the split alone draws them), or None; the train command's check() asks
    before any work."""
    # Whether a model has dropout does not depend on its input or classes.
    model = models.build(model_name, dropout=cfg.dropout)
    if any(isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0 for m in model.modules()):
        return (
            f"--parallel-splits: {model_name} draws dropout masks, which a batched network "
            f"cannot draw as the split alone does; train it without --parallel-splits"
            + (" or --dropout" if cfg.dropout > 0 else "")
        )
    return None


def auto_splits(
    model_name: str, cfg: TrainConfig, n_classes: int, input_shape: tuple[int, int], device: str
) -> int:
    """How many splits ``"auto"`` trains at once on ``device``.

    CPU: 1 -- every K > 1 measured slower than one split alone on the CPU
    (docs/benchmarks.md, "Several splits at once": the stacked weights and
    vmapped grouped convolutions cost more than the per-operation overhead
    they share); glam_py.train.workers trains splits side by side there.
    CUDA: as many as fit in ``CUDA_MEMORY_SHARE`` of
    the free memory, at the peak memory of one split's training step
    measured on the device, at most ``CUDA_MAX_SPLITS``.

    Returns
    -------
    int
        At least 1.
    """
    if not device.startswith("cuda"):
        return 1
    dev = torch.device(device)
    precision_name = precision.resolve(cfg.precision, device).precision
    model = models.build(
        model_name, n_classes=n_classes, input_shape=input_shape, device=device, precision=precision_name
    ).to(dev)
    optimizer = _optimizer(model, cfg, device)
    torch.cuda.synchronize(dev)
    before = torch.cuda.memory_allocated(dev)
    torch.cuda.reset_peak_memory_stats(dev)
    x = torch.randn(cfg.batch_size, 1, *input_shape, device=dev)
    y = torch.zeros(cfg.batch_size, dtype=torch.long, device=dev)
    with precision.autocast(precision_name, device):
        logits = model(x)
    nn.functional.cross_entropy(logits.float(), y).backward()
    optimizer.step()  # its state counts too
    per_split = torch.cuda.max_memory_allocated(dev) - before
    free, _ = torch.cuda.mem_get_info(dev)
    del model, optimizer, x, y
    return max(1, min(CUDA_MAX_SPLITS, int(CUDA_MEMORY_SHARE * free // max(per_split, 1))))


def resolve_splits(
    value: int | str,
    model_name: str,
    cfg: TrainConfig,
    n_classes: int,
    input_shape: tuple[int, int],
    device: str,
) -> int:
    """``value`` (a count, or "auto": :func:`auto_splits`) as a count."""
    if value == "auto":
        return auto_splits(model_name, cfg, n_classes, input_shape, device)
    return int(value)


class StackedNetwork:
    """K modules of one architecture run as one vmapped network.

    Parameters
    ----------
    modules : list of nn.Module
        The splits' models, on one device, in training mode. Their
        persistent buffers (BatchNorm statistics) are moved into stacked
        tensors and become views of their rows; :meth:`release` gives each
        module its own copies back.
    """

    def __init__(self, modules: list[nn.Module]):
        self.modules = modules
        self.template = copy.deepcopy(modules[0])
        # The channels_last pre-hook asks for a memory format, which vmap
        # cannot answer; the layout does not change the values.
        self.template._forward_pre_hooks.clear()
        persistent = set(modules[0].state_dict())
        self.buffer_names = [n for n, _ in modules[0].named_buffers() if n in persistent]
        self.param_names = [n for n, _ in modules[0].named_parameters()]
        self.buffers = {n: torch.stack([m.get_buffer(n) for m in modules]) for n in self.buffer_names}
        for k, module in enumerate(modules):
            for name in self.buffer_names:
                owner, _, leaf = name.rpartition(".")
                module.get_submodule(owner)._buffers[leaf] = self.buffers[name][k]

    def _call(self, params: dict, buffers: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.template, (params, buffers), (x,))

    def __call__(self, rows: list[int], x: torch.Tensor) -> torch.Tensor:
        """The logits ``[len(rows), batch, classes]`` of the modules
        ``rows`` for their batches ``x`` ``[len(rows), batch, 1, H, W]``;
        their BatchNorm statistics are updated as a training-mode forward
        of each would update them."""
        params = {n: torch.stack([self.modules[k].get_parameter(n) for k in rows]) for n in self.param_names}
        every = rows == list(range(len(self.modules)))
        index = None if every else torch.tensor(rows, device=x.device)
        buffers = self.buffers if every else {n: b[index] for n, b in self.buffers.items()}
        # Dropout is refused (refusal()); "error" keeps any other random
        # operation from drawing differently than the split alone.
        out = vmap(self._call, randomness="error")(params, buffers, x)
        if not every:
            with torch.no_grad():
                for name, updated in buffers.items():
                    self.buffers[name].index_copy_(0, index, updated)
        return out

    def release(self) -> None:
        """Gives every module its own copies of its buffers (a saved
        state dict then holds its rows only)."""
        for module in self.modules:
            for name in self.buffer_names:
                owner, _, leaf = name.rpartition(".")
                sub = module.get_submodule(owner)
                sub._buffers[leaf] = sub._buffers[leaf].clone()


def train_step(
    net: StackedNetwork,
    optimizer: torch.optim.Optimizer,
    step: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]],
    device: str,
    precision_name: str = "fp32",
    label_smoothing: float = 0.0,
    class_weights: list[torch.Tensor | None] | None = None,
    averages: list[WeightAverage | None] | None = None,
) -> dict[int, torch.Tensor]:
    """One optimiser step of the splits in ``step`` (module index -> its
    mixed batch ``(x, y, y of the partners, lambda)``); the others take no
    part. The forward pass runs in ``precision_name`` (resolved: "fp32" or
    "bf16", :func:`glam_py.precision.autocast`), the losses in fp32, with
    ``label_smoothing`` and each module's ``class_weights`` (by module
    index; default none). Each module's moving average in ``averages`` (by
    module index; default none) is updated after the step, for the modules
    that took part. Returns each split's (detached) loss.

    Splits whose batches have the same size run as one vmapped call; the
    losses are summed for one backward pass."""
    by_size: dict[int, list[int]] = {}
    for k, (_, ya, _, _) in step.items():
        by_size.setdefault(len(ya), []).append(k)
    losses, total = {}, None
    for rows in by_size.values():
        x = torch.stack([step[k][0] for k in rows]).to(device)
        with precision.autocast(precision_name, device):
            logits = net(rows, x)
        for i, k in enumerate(rows):
            _, ya, yb, lam = step[k]
            weight = class_weights[k] if class_weights is not None else None
            loss = mixup_loss(logits[i].float(), ya.to(device), yb.to(device), lam, label_smoothing, weight)
            losses[k] = loss.detach()
            total = loss if total is None else total + loss
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    optimizer.step()
    for k in step:
        if averages is not None and averages[k] is not None:
            averages[k].update(net.modules[k])
    heap.trim()
    return losses


def train_splits(
    model_name: str,
    cfg: TrainConfig,
    data: Utterances,
    splits: list[Split],
    *,
    state_path: Path,
    device: str = "cpu",
    progress: Silent = Silent(),
) -> list[dict]:
    """Trains ``splits`` together, each exactly as
    :func:`glam_py.train.trainer.train_split` trains it alone, resuming from
    ``state_path`` (this group's state) when an earlier run left one.

    Parameters
    ----------
    model_name : str
        A model that :func:`refusal` accepts.
    cfg : TrainConfig
        The training settings, the same for every split.
    data : Utterances
        The utterances and their windows.
    splits : list of Split
        The splits to train together (at least one).
    state_path : Path
        The group's resumable state, written at most every
        ``cfg.save_every_s`` seconds and after the last epoch.
    device : str
        Where the network runs (default "cpu").
    progress : Silent
        Progress display.

    Returns
    -------
    list of dict
        Per split, in order, as :func:`train_split` returns:
        ``{"metrics": ..., "model": ...}``.

    Raises
    ------
    ValueError
        The model is refused (:func:`refusal`).
    glam_py.train.trainer.NonFiniteLoss
        A split's training loss became NaN or infinite (the split named).
    """
    problem = refusal(model_name, cfg)
    if problem:
        raise ValueError(problem)
    starts = [split_start(model_name, cfg, data, split, device) for split in splits]
    modules = [s.model for s in starts]
    net = StackedNetwork(modules)
    optimizer = _optimizer(nn.ModuleList(modules), cfg, device)
    start_epoch, histories, bests = 0, [[] for _ in splits], [None] * len(splits)
    if state_path.exists():
        state = load_tensors(
            state_path, remedy="delete it to train these splits again from their first epoch"
        )
        for module, weights in zip(modules, state["models"]):
            module.load_state_dict(weights)
        if cfg.ema_decay > 0:
            for s, average in zip(starts, state["averages"]):
                s.average.model.load_state_dict(average)
        optimizer.load_state_dict(state["optimizer"])
        for s, rng_state in zip(starts, state["numpy_rngs"]):
            s.rng.bit_generator.state = rng_state
        torch.set_rng_state(state["torch_rng"])
        start_epoch, histories, bests = state["epoch"], state["histories"], state["bests"]
    test_scores, saved_at = [None] * len(splits), time.monotonic()
    names = ", ".join(split.name for split in splits)
    progress.start_training(f"{model_name} {names}", cfg.epochs, start_epoch)
    for epoch in range(start_epoch, cfg.epochs):
        lr = _lr_after(epoch, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        for module in modules:
            module.train()
        losses: list[list[torch.Tensor]] = [[] for _ in splits]
        started = time.perf_counter()
        progress.start_epoch(sum(len(s.train) for s in starts))
        batches = [epoch_batches(s, cfg) for s in starts]
        while True:
            step = {k: b for k, b in ((k, next(it, None)) for k, it in enumerate(batches)) if b is not None}
            if not step:
                break
            for k, loss in train_step(
                net,
                optimizer,
                step,
                device,
                starts[0].precision,
                cfg.label_smoothing,
                [s.class_weights for s in starts],
                [s.average for s in starts],
            ).items():
                losses[k].append(loss)
            progress.batch(sum(len(b[1]) for b in step.values()))
        seconds = time.perf_counter() - started
        for k, (split, s) in enumerate(zip(splits, starts)):
            _, bests[k], test_scores[k] = end_epoch(
                s,
                cfg,
                split,
                epoch,
                lr,
                losses[k],
                len(s.train) / seconds,
                histories[k],
                bests[k],
                device,
                state_path,
            )
        if epoch + 1 == cfg.epochs or time.monotonic() - saved_at >= cfg.save_every_s:
            save_tensors(
                state_path,
                {
                    "models": [m.state_dict() for m in modules],
                    "averages": [
                        s.average.model.state_dict() if s.average is not None else None for s in starts
                    ],
                    "optimizer": optimizer.state_dict(),
                    "numpy_rngs": [s.rng.bit_generator.state for s in starts],
                    "torch_rng": torch.get_rng_state(),
                    "epoch": epoch + 1,
                    "histories": histories,
                    "bests": bests,
                },
            )
            saved_at = time.monotonic()
        shown = ""
        if all("test" in h[-1] for h in histories):  # every split evaluates the same epochs
            shown = f", mean test UA {np.mean([h[-1]['test']['UA'] for h in histories]):.1f}"
        progress.end_epoch(f"loss {np.mean([h[-1]['loss'] for h in histories]):.3f}{shown}")
    net.release()
    return [
        {
            "metrics": final_metrics(s, cfg, split, histories[k], bests[k], test_scores[k], device),
            "model": s.evaluated,
        }
        for k, (split, s) in enumerate(zip(splits, starts))
    ]


def groups(pending: list[Split], k: int) -> list[list[Split]]:
    """``pending`` in consecutive groups of at most ``k``: the same pending
    splits always give the same groups, so a killed run finds its groups'
    states again."""
    return [pending[i : i + k] for i in range(0, len(pending), max(1, k))]


def group_name(group: list[Split]) -> str:
    """The name of a group's state file: its first split and its size
    (``seed1=x4``)."""
    return f"{group[0].name}=x{len(group)}"
