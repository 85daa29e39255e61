"""Training one model on one split: mixup, Adam (or the authors' SGD),
exponential (or step) learning-rate decay, utterance-level evaluation after
every epoch (recorded, never used for selection unless asked), and a
checkpoint after every epoch so a killed run resumes where it stopped with
the same numbers."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import torch

from glam_py import models
from glam_py.checkpoints import load_tensors, save_tensors
from glam_py.pooling import pool
from glam_py.train.config import TrainConfig
from glam_py.train.data import Utterances, stack
from glam_py.train.distributed import DataParallel
from glam_py.train.metrics import evaluate
from glam_py.train.mixup import mix, mixup_loss
from glam_py.train.progress import Silent
from glam_py.train.protocol import Split, validation_split


class NonFiniteLoss(ValueError):
    """The training loss became NaN or infinite; the message names the
    model, split and epoch."""


def _optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True,
                               weight_decay=cfg.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def _lr_after(epoch: int, cfg: TrainConfig) -> float:
    """Learning rate for epoch ``epoch`` (0-based)."""
    if cfg.step_decay_every:
        return cfg.lr * cfg.lr_decay ** (epoch // cfg.step_decay_every)
    lr = cfg.lr
    for _ in range(epoch):
        if lr * cfg.lr_decay < cfg.min_lr:
            break
        lr *= cfg.lr_decay
    return lr


@torch.no_grad()
def predict_utterances(model: torch.nn.Module, windows: list[np.ndarray], which: tuple[int, ...],
                       average: str, device: str, batch: int = 256) -> np.ndarray:
    """Per utterance of ``which``: its score, the windows' logits pooled
    as ``average`` says (:func:`glam_py.pooling.pool`)."""
    model.eval()
    x, _, owner = stack(windows, np.zeros(len(windows), dtype=int), which)
    logits = torch.cat([model(torch.from_numpy(x[start:start + batch]).unsqueeze(1).to(device)).float().cpu()
                        for start in range(0, len(x), batch)]).numpy()
    return pool(logits, owner, len(which), average)


def train_split(model_name: str, cfg: TrainConfig, data: Utterances, split: Split, *,
                state_path: Path, device: str = "cpu",
                progress: Silent = Silent(),
                parallel: DataParallel | None = None) -> dict:
    """Trains from scratch, or from ``state_path`` when an earlier run left
    one, and returns the split's metrics, history and final weights. With
    ``parallel``, every rank runs this together on its rows of each batch;
    all ranks end with the same weights and metrics, and rank 0 alone writes
    the state."""
    n_classes = len(data.class_names)
    train_idx, val_idx = split.train, ()
    if cfg.select == "val":
        train_idx, val_idx = validation_split(split.train, cfg.val_fraction, split.seed)
    train_seed = split.seed if cfg.train_seed is None else cfg.train_seed
    torch.manual_seed(train_seed)
    model = models.build(model_name, n_classes=n_classes, input_shape=data.input_shape,
                         device=device).to(device)
    net = parallel.wrap(model, device) if parallel else model
    writes_state = parallel is None or parallel.world.is_main
    optimizer = _optimizer(model, cfg)
    rng = np.random.default_rng(train_seed)
    start_epoch, history, best = 0, [], None
    if state_path.exists():
        state = load_tensors(state_path, remedy="delete it to train this split again from its first epoch")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        start_epoch, history, best = state["epoch"], state["history"], state["best"]
    x, y, _ = stack(data.train_windows, data.labels, train_idx)
    x_t, y_t = torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y).long()
    progress.start_training(f"{model_name} {split.name}", cfg.epochs, start_epoch)
    for epoch in range(start_epoch, cfg.epochs):
        lr = _lr_after(epoch, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        order = rng.permutation(len(x_t))
        losses, started = [], time.perf_counter()
        progress.start_epoch(len(order))
        for b in range(0, len(order), cfg.batch_size):
            idx = torch.from_numpy(order[b:b + cfg.batch_size])
            if parallel and not parallel.usable(len(idx)):
                continue
            xb, ya, yb, lam = mix(x_t[idx], y_t[idx], cfg.alpha, rng)
            if parallel:
                xb, ya, yb = parallel.rows(xb, ya, yb)
            with torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=cfg.bf16):
                logits = net(xb.to(device))
            loss = mixup_loss(logits.float(), ya.to(device), yb.to(device), lam)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            progress.batch(len(idx))
        # The batches' losses are on the host already (loss.item() above), so
        # checking their mean once per epoch costs nothing: NaN or inf in any
        # batch makes it non-finite. This epoch's weights are not saved, so
        # the state file keeps the last good epoch.
        if losses and not np.isfinite(np.mean(losses)):
            kept = f"its last saved state is kept in {state_path}" if state_path.exists() else "no state was saved"
            raise NonFiniteLoss(f"{model_name} split {split.name}: the training loss became "
                                f"{np.mean(losses)} in epoch {epoch + 1}; training stopped, {kept}")
        if parallel:
            parallel.sync_buffers(model)
        test = evaluate(data.labels[list(split.test)],
                        predict_utterances(model, data.test_windows, split.test, cfg.average, device).argmax(1),
                        n_classes)
        record = {"epoch": epoch + 1, "lr": lr, "loss": float(np.mean(losses)),
                  "windows_per_s": len(x_t) / (time.perf_counter() - started),
                  "test": {k: test[k] for k in ("WA", "UA", "macro_F1", "weighted_F1")}}
        if val_idx:
            val = evaluate(data.labels[list(val_idx)],
                           predict_utterances(model, data.train_windows, val_idx, cfg.average, device).argmax(1),
                           n_classes)
            record["val"] = {k: val[k] for k in ("WA", "UA")}
        history.append(record)
        score = {"val": record.get("val", {}).get("UA"), "test": test["UA"]}.get(cfg.select)
        if score is not None and (best is None or score > best["score"]):
            best = {"score": score, "epoch": epoch + 1, "model": copy.deepcopy(model.state_dict())}
        if writes_state:
            save_tensors(state_path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                      "numpy_rng": rng.bit_generator.state,
                                      "torch_rng": torch.get_rng_state(),
                                      "epoch": epoch + 1, "history": history, "best": best})
        progress.end_epoch(f"loss {record['loss']:.3f}, test UA {test['UA']:.1f}")
    if best is not None:
        model.load_state_dict(best["model"])
    scores = predict_utterances(model, data.test_windows, split.test, cfg.average, device)
    result = evaluate(data.labels[list(split.test)], scores.argmax(1), n_classes)
    result.update(split=split.name, seed=split.seed, train_seed=train_seed, history=history,
                  selected_epoch=best["epoch"] if best else cfg.epochs)
    return {"metrics": result, "model": model}
