"""Every training setting in one dataclass, with the paper's and the
authors' presets (shared/REFERENCE.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from glam_py import models
from glam_py.settings import Settings


@dataclass(frozen=True)
class TrainConfig(Settings):
    lr: float = 1e-4
    weight_decay: float = 1e-6
    lr_decay: float = 0.95  # multiplied in after every epoch
    min_lr: float = 1e-6  # decay stops once the rate falls below this
    step_decay_every: int = 0  # >0: multiply by lr_decay every this many epochs instead
    optimizer: str = "adam"  # "adam" or "sgd" (momentum 0.9, Nesterov)
    epochs: int = 50
    batch_size: int = 32
    alpha: float = 0.5  # mixup Beta(alpha, alpha); 0 turns mixup off
    window_s: float = 2.0
    train_overlap_s: float = 1.0
    test_overlap_s: float = 1.6
    pad: str = "drop"
    pad_mode: str = "constant"  # MFCC centre padding: "constant" (librosa >= 0.10) or "reflect" (older)
    average: str = "logits"  # utterance prediction: mean of "logits" or "probabilities"
    select: str = "last"  # "last" epoch, "val" (best on a validation split), "test" (optimistic)
    val_fraction: float = 0.1
    bf16: bool = False
    # Seed of the model's initialisation, batch order and mixup draws; None:
    # the split's seed. Set it to tell split-to-split from run-to-run noise.
    train_seed: int | None = None


PAPER = TrainConfig()

def preset(name: str, model: str) -> TrainConfig:
    """The training settings of a named preset for ``model``.

    Parameters
    ----------
    name : str
        ``"paper"`` (the paper's one recipe) or ``"authors"`` (the authors'
        run script for this model, registered with the model).
    model : str
        A registered model name.

    Raises
    ------
    ValueError
        For an unknown preset or model name.
    """
    if name == "paper":
        return PAPER
    if name == "authors":
        return PAPER.replace(**models.spec(model).authors_recipe)
    raise ValueError(f"unknown preset {name!r}; choose paper or authors")


def load_overrides(path: str) -> dict:
    """A JSON file of TrainConfig fields that override the preset."""
    with open(path, encoding="utf-8") as f:
        values = json.load(f)
    TrainConfig.from_dict(values)  # names checked here, not halfway through a run
    return values


@dataclass(frozen=True)
class RunConfig:
    """What a whole run does: models, protocol, splits, and the overrides
    applied on top of each model's preset."""

    models: tuple[str, ...] = ("glam",)
    preset: str = "paper"
    protocol: str = "random"  # "random" 80/20, "speaker" (LOSO), "session" (IEMOCAP)
    repeats: int = 5
    seed: int = 1
    stratify: bool = False
    alphas: tuple[float, ...] = ()
    overrides: dict = field(default_factory=dict)
    threads: int | None = None
    device: str = "cpu"
    ddp: bool = False  # under torchrun: all ranks train each split together

    def train_config(self, model: str, alpha: float | None = None) -> TrainConfig:
        config = preset(self.preset, model).replace(**self.overrides)
        return config if alpha is None else config.replace(alpha=alpha)
