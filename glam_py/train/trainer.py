"""Training one model on one split: mixup, Adam (or the authors' SGD),
exponential (or step) learning-rate decay, bf16 autocast where the
precision says so, the recipe's optional ingredients (label smoothing,
class weights, warm-up and cosine decay, SpecAugment masks, level changes,
dropout, a moving average of the weights), utterance-level test evaluation
every few epochs and after the last (recorded, never used for selection
unless asked), the optional temperature fitted on validation utterances
after the last epoch, and the resumable state saved every minute or so and
after the last epoch, so a killed run resumes from its last saved epoch
with the same numbers."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from glam_py import models, precision
from glam_py.checkpoints import load_tensors, save_tensors
from glam_py.pooling import pool, probabilities, utterance_logits
from glam_py.train import heap
from glam_py.train.augment import change_level, level_rows, mask_windows
from glam_py.train.calibration import fit_temperature, nll
from glam_py.train.config import TrainConfig
from glam_py.train.data import Utterances, WindowRows
from glam_py.train.distributed import DataParallel
from glam_py.train.metrics import calibration, evaluate
from glam_py.train.mixup import mix, mixup_loss
from glam_py.train.progress import Silent
from glam_py.train.protocol import Split, validation_split


class NonFiniteLoss(ValueError):
    """The training loss became NaN or infinite; the message names the
    model, split and epoch."""


def _optimizer(model: torch.nn.Module, cfg: TrainConfig, device: str) -> torch.optim.Optimizer:
    """The optimiser of ``model``'s parameters; Adam is elementwise and
    skips parameters without a gradient, so over several splits' modules
    (:mod:`glam_py.train.parallel`) it is each split's own Adam."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay
        )
    # The fused kernel updates all parameters in one pass: on 2 CPU threads
    # GLAM's Adam step took 13% of a split in the per-parameter loop
    # (docs/benchmarks.md, where a split spends its time).
    fused = torch.device(device).type in ("cpu", "cuda")
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)


def _lr_after(epoch: int, cfg: TrainConfig) -> float:
    """Learning rate for epoch ``epoch`` (0-based): ``cfg.lr * (epoch + 1)
    / cfg.warmup_epochs`` in the warm-up, then ``cfg.schedule`` counted from
    the warm-up's end.

    The rate changes per epoch, not per step: the splits trained together
    (:mod:`glam_py.train.parallel`) share one rate per step, and their
    epochs differ in steps but not in number."""
    if epoch < cfg.warmup_epochs:
        return cfg.lr * (epoch + 1) / cfg.warmup_epochs
    epoch -= cfg.warmup_epochs
    if cfg.schedule == "cosine":
        # PyTorch's CosineAnnealingLR with T_max the epochs after the
        # warm-up: min_lr would come just after the last epoch, which
        # still learns.
        span = cfg.epochs - cfg.warmup_epochs
        return cfg.min_lr + (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * epoch / span)) / 2
    if cfg.step_decay_every:
        return cfg.lr * cfg.lr_decay ** (epoch // cfg.step_decay_every)
    lr = cfg.lr
    for _ in range(epoch):
        if lr * cfg.lr_decay < cfg.min_lr:
            break
        lr *= cfg.lr_decay
    return lr


@torch.no_grad()
def _scores(
    model: torch.nn.Module,
    rows: WindowRows,
    average: str,
    device: str,
    precision_name: str,
    batch: int,
) -> np.ndarray:
    model.eval()
    # The windows take the parameters' dtype (float64 in the equivalence tests).
    dtype = next(model.parameters()).dtype
    parts = []
    with precision.autocast(precision_name, device):
        for x in rows.chunks(batch):
            parts.append(model(torch.from_numpy(x).unsqueeze(1).to(device, dtype)).float().cpu())
            heap.trim()  # evaluating a large test split takes minutes too
    logits = torch.cat(parts).numpy()
    return pool(logits, rows.owner, int(rows.owner[-1]) + 1, average)


def predict_utterances(
    model: torch.nn.Module,
    windows: list[np.ndarray],
    which: tuple[int, ...],
    average: str,
    device: str,
    batch: int = 256,
    precision_name: str = "fp32",
) -> np.ndarray:
    """Per utterance of ``which``: its score, the windows' logits pooled
    as ``average`` says (:func:`glam_py.pooling.pool`), the forward pass
    run in ``precision_name`` (:mod:`glam_py.precision`; the logits and
    the pooling are fp32)."""
    rows = WindowRows(windows, np.zeros(len(windows), dtype=int), which)
    return _scores(model, rows, average, device, precision_name, batch)


class _Evaluation:
    """One split's utterances to score after an epoch."""

    def __init__(self, windows: list[np.ndarray], labels: np.ndarray, which: tuple[int, ...]):
        self.rows = WindowRows(windows, labels, which)
        self.labels = labels[list(which)]

    def scores(
        self, model: torch.nn.Module, cfg: TrainConfig, device: str, precision_name: str
    ) -> np.ndarray:
        return _scores(model, self.rows, cfg.average, device, precision_name, evaluation_batch(device))


def evaluation_batch(device: str) -> int:
    """Windows per forward pass when a split is evaluated: 64 on the CPU,
    where GLAM infers 1.3-1.8x faster in batches of 64 than of 256 (fp32
    and bf16, 1 and 2 threads; the larger batch's activations outgrow the
    caches), and 256 on an accelerator, which a larger batch keeps busy."""
    return 64 if torch.device(device).type == "cpu" else 256


class WeightAverage:
    """An exponential moving average of a model's weights and of its
    BatchNorm running statistics, kept in a copy of the model.

    ``update`` after every optimiser step sets each floating-point entry of
    the state dict to ``decay * average + (1 - decay) * current``; integer
    entries (BatchNorm's batch count) are copied. The running statistics
    are averaged like the weights (as ``AveragedModel(use_buffers=True)``
    does) rather than recomputed with a pass over the training windows,
    which would cost most of an epoch each time the average is evaluated.

    Parameters
    ----------
    model : nn.Module
        The model to average; the average starts as a copy of it.
    decay : float
        Weight of the average at each update, in (0, 1).
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        averaged, current = [], []
        for avg, new in zip(self.model.state_dict().values(), model.state_dict().values()):
            if avg.is_floating_point():
                averaged.append(avg)
                current.append(new)
            else:
                avg.copy_(new)
        # One fused call for every tensor: the per-tensor loop cost a
        # dispatch per entry at every step.
        torch._foreach_lerp_(averaged, current, 1 - self.decay)


def balanced_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Per class, the inverse of its count in ``y`` (class indices),
    normalised to mean 1 over the classes present; a class absent from
    ``y`` gets 0 (no window of it is trained on)."""
    counts = np.bincount(y, minlength=n_classes)
    inverse = np.divide(1.0, counts, out=np.zeros(n_classes), where=counts > 0)
    return inverse / inverse[counts > 0].mean()


@dataclass
class SplitStart:
    """What one split's training starts from, drawn from its own seed
    exactly as :func:`train_split` draws it, so that
    :mod:`glam_py.train.parallel` trains the same split identically:
    the initial weights (``torch.manual_seed(train_seed)``, then the
    model's construction) and ``rng``, which then draws each epoch's batch
    order, each batch's masks and mixup (:func:`epoch_batches`)."""

    model_name: str
    model: torch.nn.Module
    rng: np.random.Generator
    train_seed: int
    precision: str  # resolved: "fp32" or "bf16"
    n_classes: int
    train: WindowRows  # the training windows, read a batch at a time
    y: torch.Tensor  # their class indices
    train_utterances: int  # how many utterances ``train`` holds
    test_set: _Evaluation | None  # None: the split tests nothing (--protocol all)
    # Utterances held out of training for selection (select "val") and for
    # fitting the temperature (calibrate "temperature"); one set for both.
    val_set: _Evaluation | None
    validation: str | None  # how val_set was carved: "speaker" or "utterance" (validation_split)
    # Each batch is gathered into these rather than into fresh arrays.
    staging: np.ndarray  # float32, as the store holds the windows
    batch_x: torch.Tensor  # in the parameters' dtype, [batch, 1, n_features, n_frames]
    partners: torch.Tensor
    class_weights: torch.Tensor | None  # the loss's, float32 on the device (class_weights "balanced")
    average: WeightAverage | None  # the weights' moving average (ema_decay > 0)
    level_rows: np.ndarray  # what +1 dB adds to each row of a window (augment.level_rows)
    # Per training window, its probability of being drawn (sampler "corpus"
    # over several training corpora); None: each window once per epoch.
    draw: np.ndarray | None = None

    @property
    def evaluated(self) -> torch.nn.Module:
        """The model that is evaluated, selected and kept: the moving
        average where there is one, else the trained model."""
        return self.average.model if self.average is not None else self.model


def split_start(model_name: str, cfg: TrainConfig, data: Utterances, split: Split, device: str) -> SplitStart:
    """The freshly initialised model, random stream, training windows and
    evaluation sets of ``split`` (see :class:`SplitStart`); the windows
    take the dtype of the model's parameters (float32, or float64 under
    ``torch.set_default_dtype``)."""
    train_idx, val_idx, validation = split.train, (), None
    if cfg.select == "val" or cfg.calibrate == "temperature":
        train_idx, val_idx, validation = validation_split(
            split.train, cfg.val_fraction, split.seed, data.speakers
        )
    train_seed = split.seed if cfg.train_seed is None else cfg.train_seed
    precision_name = precision.resolve(cfg.precision, device).precision
    torch.manual_seed(train_seed)
    model = models.build(
        model_name,
        n_classes=len(data.class_names),
        input_shape=data.input_shape,
        device=device,
        precision=precision_name,
        dropout=cfg.dropout,
    ).to(device)
    train = WindowRows(data.training_windows, data.labels, train_idx)
    weights = None
    if cfg.class_weights == "balanced":
        weights = torch.tensor(
            balanced_weights(train.y, len(data.class_names)), dtype=torch.float32, device=device
        )
    staging = np.empty((cfg.batch_size, *train.window_shape), dtype=np.float32)
    batch_x = torch.empty((cfg.batch_size, 1, *train.window_shape), dtype=next(model.parameters()).dtype)
    return SplitStart(
        model_name,
        model,
        np.random.default_rng(train_seed),
        train_seed,
        precision_name,
        len(data.class_names),
        train,
        torch.from_numpy(train.y).long(),
        len(train_idx),
        _Evaluation(data.test_windows, data.labels, split.test) if split.test else None,
        _Evaluation(data.train_windows, data.labels, val_idx) if val_idx else None,
        validation,
        staging,
        batch_x,
        torch.empty_like(batch_x),
        weights,
        WeightAverage(model, cfg.ema_decay) if cfg.ema_decay > 0 else None,
        level_rows(cfg.features),
        corpus_draws(train, data.corpora, train_idx) if cfg.sampler == "corpus" else None,
    )


def corpus_draws(train: WindowRows, corpora: list[str], which: tuple[int, ...]) -> np.ndarray | None:
    """Per training window, the probability that gives each training
    corpus the same share of an epoch's draws (each window of a corpus
    equally likely); None when the windows come from fewer than two
    corpora, which then train as the uniform sampler does."""
    if not corpora:
        return None
    names = np.array([corpora[i] for i in which])[train.owner]
    kinds, counts = np.unique(names, return_counts=True)
    if len(kinds) < 2:
        return None
    per_window = 1.0 / (len(kinds) * counts[np.searchsorted(kinds, names)])
    return per_window / per_window.sum()


def epoch_batches(
    start: SplitStart, cfg: TrainConfig, usable: Callable[[int], bool] | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]]:
    """One epoch of masked, level-changed, mixed batches ``(x, y, y of the
    partners, lambda)`` (:func:`glam_py.train.augment.mask_windows`,
    :func:`glam_py.train.augment.change_level`,
    :func:`glam_py.train.mixup.mix`): the epoch's order drawn from
    ``start.rng`` first, then each batch's masks, gains and mixup draws as
    the batch is taken. Each window is masked before mixup, so that a mixed
    window holds both partners' masks, as a masked recording would be
    mixed. Batches that ``usable`` (given their row count) refuses are
    skipped before their draws. Each batch lives in ``start``'s buffers,
    so it is valid until the next one is drawn."""
    if start.draw is None:
        order = start.rng.permutation(len(start.train))
    else:
        order = start.rng.choice(len(start.train), size=len(start.train), p=start.draw)
    for b in range(0, len(order), cfg.batch_size):
        rows = order[b : b + cfg.batch_size]
        if usable is not None and not usable(len(rows)):
            continue
        xb = start.batch_x[: len(rows)]
        x = mask_windows(
            start.train.gather(rows, start.staging),
            start.rng,
            cfg.time_masks,
            cfg.time_mask_frames,
            cfg.freq_masks,
            cfg.freq_mask_bins,
        )
        # After the masks, whose fill (a coefficient's mean over the
        # frames) moves with the level: the two commute.
        x = change_level(x, start.rng, cfg.level_db, start.level_rows)
        xb.copy_(torch.from_numpy(x).unsqueeze(1))
        idx = torch.from_numpy(rows)
        yield mix(xb, start.y[idx], cfg.alpha, start.rng, out=start.partners[: len(idx)])


def end_epoch(
    start: SplitStart,
    cfg: TrainConfig,
    split: Split,
    epoch: int,
    lr: float,
    losses: list[torch.Tensor],
    windows_per_s: float,
    history: list[dict],
    best: dict | None,
    device: str,
    state_path: Path,
) -> tuple[dict, dict | None, np.ndarray | None]:
    """Checks the epoch's loss, evaluates ``start.evaluated`` after ``epoch``
    (0-based), appends the epoch's record to ``history`` and returns it
    with the best epoch so far under ``cfg.select`` (its weights copied)
    and the test scores where the test split was evaluated (every
    ``cfg.eval_every``-th epoch, the last, and every epoch under
    ``select="test"``), else None.

    Raises
    ------
    NonFiniteLoss
        The loss of a batch was NaN or infinite; ``state_path`` (the state
        file this split is saved in) is named in the message.
    """
    # One host sync per epoch: NaN or inf in any batch makes the mean
    # non-finite. This epoch's weights are not saved, so the state file
    # keeps the last good state.
    mean_loss = torch.stack(losses).double().mean().item() if losses else float("nan")
    if losses and not np.isfinite(mean_loss):
        kept = (
            f"its last saved state is kept in {state_path}" if state_path.exists() else "no state was saved"
        )
        raise NonFiniteLoss(
            f"{start.model_name} split {split.name}: the training loss became "
            f"{mean_loss} in epoch {epoch + 1}; training stopped, {kept}"
        )
    model, n_classes = start.evaluated, start.n_classes
    record = {"epoch": epoch + 1, "lr": lr, "loss": mean_loss, "windows_per_s": windows_per_s}
    test_scores = None
    evaluated = epoch + 1 == cfg.epochs or cfg.select == "test" or (epoch + 1) % cfg.eval_every == 0
    if start.test_set is not None and evaluated:
        test_scores = start.test_set.scores(model, cfg, device, start.precision)
        test = evaluate(start.test_set.labels, test_scores.argmax(1), n_classes)
        record["test"] = {k: test[k] for k in ("WA", "UA", "macro_F1", "weighted_F1")}
    # Only selection needs the validation split every epoch; the
    # temperature is fitted once, on the epoch kept (final_metrics).
    if start.val_set is not None and cfg.select == "val":
        val = evaluate(
            start.val_set.labels,
            start.val_set.scores(model, cfg, device, start.precision).argmax(1),
            n_classes,
        )
        record["val"] = {k: val[k] for k in ("WA", "UA")}
    history.append(record)
    score = {"val": record.get("val", {}).get("UA"), "test": record.get("test", {}).get("UA")}.get(cfg.select)
    if score is not None and (best is None or score > best["score"]):
        best = {"score": score, "epoch": epoch + 1, "model": copy.deepcopy(model.state_dict())}
    return record, best, test_scores


def final_metrics(
    start: SplitStart,
    cfg: TrainConfig,
    split: Split,
    history: list[dict],
    best: dict | None,
    test_scores: np.ndarray | None,
    device: str,
) -> dict:
    """The split's result: ``start.evaluated`` set to the selected epoch's
    weights, its temperature fitted on the validation utterances under
    ``cfg.calibrate="temperature"`` (else 1), evaluated on the test
    utterances (``test_scores``, the last epoch's, are reused where no
    epoch was selected), with the history and the sizes of the training
    and validation sets. The test metrics hold the ECE of the probabilities
    at that temperature and the per-utterance record behind it
    (:func:`glam_py.train.metrics.calibration`). A split without test
    utterances (--protocol all) has no test metrics: no WA, UA, F1,
    confusion or ECE."""
    if best is not None:
        start.evaluated.load_state_dict(best["model"])
    result: dict = {}
    temperature, fitted = 1.0, None
    if cfg.calibrate == "temperature":
        val_scores = start.val_set.scores(start.evaluated, cfg, device, start.precision)
        val_logits = utterance_logits(val_scores, cfg.average)
        temperature = fit_temperature(val_logits, start.val_set.labels)
        fitted = {
            "method": "temperature",
            "val_NLL_before": nll(val_logits, start.val_set.labels),
            "val_NLL_after": nll(val_logits, start.val_set.labels, temperature),
        }
    if start.test_set is not None:
        if best is not None or test_scores is None:
            test_scores = start.test_set.scores(start.evaluated, cfg, device, start.precision)
        labels = start.test_set.labels
        result = evaluate(labels, test_scores.argmax(1), start.n_classes)
        result.update(calibration(probabilities(test_scores, cfg.average, temperature), labels))
        if fitted is not None:
            fitted["ECE_before"] = calibration(probabilities(test_scores, cfg.average), labels)["ECE"]
    if fitted is not None:
        result["calibration"] = fitted
    result.update(
        temperature=temperature,
        split=split.name,
        seed=split.seed,
        train_seed=start.train_seed,
        precision=start.precision,
        history=history,
        selected_epoch=best["epoch"] if best else cfg.epochs,
        train_utterances=start.train_utterances,
        train_windows=len(start.train),
        val_utterances=0 if start.val_set is None else len(start.val_set.labels),
        validation=start.validation,
    )
    return result


def epoch_summary(record: dict) -> str:
    """An epoch's line for the progress display."""
    shown = "".join(f", {kind} UA {record[kind]['UA']:.1f}" for kind in ("test", "val") if kind in record)
    return f"loss {record['loss']:.3f}{shown}"


def train_split(
    model_name: str,
    cfg: TrainConfig,
    data: Utterances,
    split: Split,
    *,
    state_path: Path,
    device: str = "cpu",
    progress: Silent = Silent(),
    parallel: DataParallel | None = None,
) -> dict:
    """Trains from scratch, or from ``state_path`` when an earlier run left
    one, and returns the split's metrics, history and final model (the
    weights' moving average where ``cfg.ema_decay`` asks for one). With
    ``parallel``, every rank runs this together on its rows of each batch;
    all ranks end with the same weights and metrics, and rank 0 alone writes
    the state.

    The history has an entry per epoch (loss, learning rate, speed); the
    test scores are in the entries of the evaluated epochs only (every
    ``cfg.eval_every``-th and the last; every epoch under ``select="test"``),
    the validation scores (``select="val"``) in every entry."""
    start = split_start(model_name, cfg, data, split, device)
    model, rng = start.model, start.rng
    net = parallel.wrap(model, device) if parallel else model
    writes_state = parallel is None or parallel.world.is_main
    optimizer = _optimizer(model, cfg, device)
    start_epoch, history, best = 0, [], None
    if state_path.exists():
        state = load_tensors(state_path, remedy="delete it to train this split again from its first epoch")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if start.average is not None:
            start.average.model.load_state_dict(state["average"])
        rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        start_epoch, history, best = state["epoch"], state["history"], state["best"]
    test_scores, saved_at = None, time.monotonic()
    progress.start_training(f"{model_name} {split.name}", cfg.epochs, start_epoch)
    for epoch in range(start_epoch, cfg.epochs):
        lr = _lr_after(epoch, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        losses, started = [], time.perf_counter()
        progress.start_epoch(len(start.train))
        for xb, ya, yb, lam in epoch_batches(start, cfg, parallel.usable if parallel else None):
            if parallel:
                xb, ya, yb = parallel.rows(xb, ya, yb)
            with precision.autocast(start.precision, device):
                logits = net(xb.to(device))
            loss = mixup_loss(
                logits.float(), ya.to(device), yb.to(device), lam, cfg.label_smoothing, start.class_weights
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if start.average is not None:
                start.average.update(model)
            # Kept on the device: no host sync per batch (it stalls a GPU).
            losses.append(loss.detach())
            progress.batch(len(ya))
            heap.trim()
        if parallel:
            parallel.sync_buffers(model)
            if start.average is not None:
                parallel.sync_buffers(start.average.model)
        record, best, test_scores = end_epoch(
            start,
            cfg,
            split,
            epoch,
            lr,
            losses,
            len(start.train) / (time.perf_counter() - started),
            history,
            best,
            device,
            state_path,
        )
        if writes_state and (epoch + 1 == cfg.epochs or time.monotonic() - saved_at >= cfg.save_every_s):
            save_tensors(
                state_path,
                {
                    "model": model.state_dict(),
                    "average": start.average.model.state_dict() if start.average is not None else None,
                    "optimizer": optimizer.state_dict(),
                    "numpy_rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(),
                    "epoch": epoch + 1,
                    "history": history,
                    "best": best,
                },
            )
            saved_at = time.monotonic()
        progress.end_epoch(epoch_summary(record))
    metrics = final_metrics(start, cfg, split, history, best, test_scores, device)
    return {"metrics": metrics, "model": start.evaluated}
