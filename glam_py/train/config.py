"""Every training setting in one dataclass, with the paper's and the
authors' presets (shared/REFERENCE.md)."""

from __future__ import annotations

import json
from dataclasses import Field, dataclass, field, fields

from glam_py.features import FeatureConfig
from glam_py.normalize import NORMALIZATIONS
from glam_py.precision import CHOICES
from glam_py.settings import Settings

SCHEDULES = ("exponential", "cosine")
CLASS_WEIGHTS = ("none", "balanced")
SAMPLERS = ("uniform", "corpus")
CALIBRATIONS = ("none", "temperature")


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
    # The test windows' features; the training windows differ only in their
    # overlap (train_features()).
    features: FeatureConfig = field(default_factory=FeatureConfig)
    train_overlap_s: float = 1.0
    average: str = "logits"  # utterance prediction: mean of "logits" or "probabilities"
    select: str = "last"  # "last" epoch, "val" (best on a validation split), "test" (optimistic)
    val_fraction: float = 0.1
    # "auto": bf16 autocast where the device multiplies bf16 natively, else
    # fp32 (glam_py.precision.resolve); config.json records the resolved one.
    precision: str = "auto"
    # Test-split evaluation every this many epochs, and after the last; the
    # selection split (select val or test) is evaluated after every epoch.
    eval_every: int = 5
    # The resumable state is written after an epoch once this many seconds
    # have passed since the last write, and after the last epoch.
    save_every_s: float = 60.0
    # Seed of the model's initialisation, batch order and mixup draws; None:
    # the split's seed. Set it to tell split-to-split from run-to-run noise.
    train_seed: int | None = None
    # The recipe's optional ingredients, all off by default (the paper's
    # recipe). Each field's metadata is its command-line help: the train
    # command makes a flag of every field that has one (recipe_fields()).
    label_smoothing: float = field(
        default=0.0,
        metadata={
            "help": "cross-entropy label smoothing eps, at least 0 and below 1: the target puts "
            "1 - eps on the labelled class and eps/C on every class (C classes); with mixup each "
            "partner's target is smoothed"
        },
    )
    schedule: str = field(
        default="exponential",
        metadata={
            "help": "learning-rate schedule after the warm-up: exponential (times lr_decay after "
            "every epoch down to min_lr, or every step_decay_every epochs) or cosine (from lr "
            "towards min_lr over the remaining epochs)",
            "choices": SCHEDULES,
        },
    )
    warmup_epochs: int = field(
        default=0,
        metadata={
            "help": "epochs of linear learning-rate warm-up before the schedule, fewer than "
            "epochs: epoch e (from 0) trains at lr*(e+1)/N"
        },
    )
    time_masks: int = field(
        default=0,
        metadata={"help": "SpecAugment time masks drawn for every training window, each its own"},
    )
    time_mask_frames: int = field(
        default=10,
        metadata={
            "help": "widest time mask in frames (a mask's width is drawn from 0 to this), at most a "
            "window's frames"
        },
    )
    freq_masks: int = field(
        default=0,
        metadata={
            "help": "SpecAugment frequency masks (bands of MFCC coefficients) drawn for every "
            "training window, each its own"
        },
    )
    freq_mask_bins: int = field(
        default=4,
        metadata={
            "help": "widest frequency mask in MFCC coefficients (a mask's width is drawn from 0 to "
            "this), at most a window's coefficients"
        },
    )
    dropout: float = field(
        default=0.0,
        metadata={
            "help": "dropout probability, while training, on what the classification layers take "
            "(the last linear layer's input; APCNN: its trunk's map), at least 0 and below 1 (0: "
            "none); not with --parallel-splits"
        },
    )
    level_db: float = field(
        default=0.0,
        metadata={
            "help": "recording level changes: every training window as if its audio were louder or "
            "softer by a gain drawn uniformly from -X to +X dB (at least 0; 0: off), applied exactly "
            "on its features (a gain adds to every dB mel energy, so to MFCC coefficient 0 alone)"
        },
    )
    ema_decay: float = field(
        default=0.0,
        metadata={
            "help": "exponential moving average of the weights and BatchNorm statistics, updated "
            "after every optimiser step with this decay (at least 0, below 1; 0: off); evaluation "
            "and the saved model use the average"
        },
    )
    class_weights: str = field(
        default="none",
        metadata={
            "help": "loss weight per class: none, or balanced (inverse frequency of the class among "
            "the split's training windows, normalised to mean 1)",
            "choices": CLASS_WEIGHTS,
        },
    )
    normalize: str = field(
        default="none",
        metadata={
            "help": "cepstral mean and variance normalisation of every window, each MFCC coefficient "
            "by its mean and standard deviation over a group: none; utterance (its own windows); "
            "speaker (every utterance of its speaker, the test speakers' own statistics in testing); "
            "or corpus (every utterance of its corpus, the test corpus's own under --protocol corpus). "
            "Predict normalises each file by its own windows, or with --adapt all its inputs together",
            "choices": NORMALIZATIONS,
        },
    )
    sampler: str = field(
        default="uniform",
        metadata={
            "help": "how an epoch draws its training windows: uniform (each window once, in a random "
            "order) or corpus (with several training corpora: as many draws as windows, with "
            "replacement, each corpus drawn as often as every other whatever its size; a run of one "
            "training corpus trains as uniform)",
            "choices": SAMPLERS,
        },
    )
    calibrate: str = field(
        default="none",
        metadata={
            "help": "after training: none, or temperature (fit one temperature T that divides the "
            "utterance logits before the softmax, by the likelihood of a validation split carved "
            "from the training utterances as --select val carves it, whole speakers where there "
            "are enough; those utterances do not train, and under --select val it is the same "
            "split). T is saved in the checkpoint and predict applies it: the labels stay, the "
            "probabilities come to mean what they say",
            "choices": CALIBRATIONS,
        },
    )
    speeds: tuple[float, ...] = field(
        default=(),
        metadata={
            "help": "speed perturbation of the training windows, comma-separated speeds such as "
            "0.9,1.0,1.1 (Kaldi's): the corpus is featurised once per speed at the training overlap "
            "(each a cached store, resampled as --speed does), and an utterance's training windows "
            "are its windows at every speed; test and validation windows are never perturbed. An "
            "epoch trains on the windows of all speeds, so it takes about as many times as long as "
            "there are speeds; none: no perturbation"
        },
    )
    augment: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "channel augmentation of the training windows, comma-separated effects among "
            "noise, reverb, eq, telephone, gain and codec (as featurize --augment; docs/features.md "
            "gives each one's probability and ranges): the corpus is featurised once more per copy "
            "(--augment-copies) at the training overlap, each a cached store in which every file drew "
            "its own chain of these effects from its path, and an utterance trains on its "
            "unperturbed windows (with --speeds, its windows at every speed) and every copy's; test "
            "and validation windows are never augmented. An epoch then takes about 1 + copies "
            "times as long; none: no augmentation",
            "kind": "names",
        },
    )
    augment_copies: int = field(
        default=1,
        metadata={
            "help": "augmented copies of every training utterance with --augment, at least 1, each "
            "drawing its own chains"
        },
    )

    def __post_init__(self) -> None:
        # JSON (config files, config.json) gives a list.
        for name in ("speeds", "augment"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        # Refused here, not as a crash halfway through a run (or an
        # untrained model saved, for epochs 0).
        problems = [
            f"{name} must be {rule}, got {value!r}"
            for name, value, ok, rule in (
                ("epochs", self.epochs, isinstance(self.epochs, int) and self.epochs >= 1, "at least 1"),
                (
                    "batch_size",
                    self.batch_size,
                    isinstance(self.batch_size, int) and self.batch_size >= 1,
                    "at least 1",
                ),
                ("lr", self.lr, isinstance(self.lr, (int, float)) and self.lr > 0, "above 0"),
                ("alpha", self.alpha, isinstance(self.alpha, (int, float)) and self.alpha >= 0, "at least 0"),
                (
                    "val_fraction",
                    self.val_fraction,
                    isinstance(self.val_fraction, (int, float)) and 0 < self.val_fraction < 1,
                    "between 0 and 1",
                ),
                ("optimizer", self.optimizer, self.optimizer in ("adam", "sgd"), "adam or sgd"),
                (
                    "average",
                    self.average,
                    self.average in ("logits", "probabilities"),
                    "logits or probabilities",
                ),
                ("select", self.select, self.select in ("last", "val", "test"), "last, val or test"),
                (
                    "label_smoothing",
                    self.label_smoothing,
                    isinstance(self.label_smoothing, (int, float)) and 0 <= self.label_smoothing < 1,
                    "at least 0 and below 1",
                ),
                ("schedule", self.schedule, self.schedule in SCHEDULES, " or ".join(SCHEDULES)),
                (
                    "schedule",
                    self.schedule,
                    self.schedule != "cosine" or not self.step_decay_every,
                    "exponential when step_decay_every is set",
                ),
                (
                    "min_lr",
                    self.min_lr,
                    self.schedule != "cosine" or self.min_lr <= self.lr,
                    f"at most lr ({self.lr}) under schedule cosine",
                ),
                (
                    "warmup_epochs",
                    self.warmup_epochs,
                    isinstance(self.warmup_epochs, int) and 0 <= self.warmup_epochs < self.epochs,
                    f"at least 0 and fewer than epochs ({self.epochs})",
                ),
                *(
                    (name, value, isinstance(value, int) and value >= 0, "at least 0")
                    for name, value in (("time_masks", self.time_masks), ("freq_masks", self.freq_masks))
                ),
                (
                    "time_mask_frames",
                    self.time_mask_frames,
                    isinstance(self.time_mask_frames, int)
                    and 1 <= self.time_mask_frames <= self.features.n_frames,
                    f"at least 1 and at most a window's {self.features.n_frames} frames",
                ),
                (
                    "freq_mask_bins",
                    self.freq_mask_bins,
                    isinstance(self.freq_mask_bins, int)
                    and 1 <= self.freq_mask_bins <= self.features.n_features,
                    f"at least 1 and at most a window's {self.features.n_features} coefficients",
                ),
                (
                    "dropout",
                    self.dropout,
                    isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1,
                    "at least 0 and below 1",
                ),
                (
                    "level_db",
                    self.level_db,
                    isinstance(self.level_db, (int, float)) and self.level_db >= 0,
                    "at least 0",
                ),
                (
                    "ema_decay",
                    self.ema_decay,
                    isinstance(self.ema_decay, (int, float)) and 0 <= self.ema_decay < 1,
                    "at least 0 and below 1",
                ),
                (
                    "normalize",
                    self.normalize,
                    self.normalize in NORMALIZATIONS,
                    " or ".join(NORMALIZATIONS),
                ),
                ("sampler", self.sampler, self.sampler in SAMPLERS, " or ".join(SAMPLERS)),
                (
                    "class_weights",
                    self.class_weights,
                    self.class_weights in CLASS_WEIGHTS,
                    " or ".join(CLASS_WEIGHTS),
                ),
                (
                    "calibrate",
                    self.calibrate,
                    self.calibrate in CALIBRATIONS,
                    " or ".join(CALIBRATIONS),
                ),
                (
                    "speed",
                    self.features.speed,
                    self.features.speed == 1,
                    "1: the test windows are never perturbed (speeds perturbs the training windows)",
                ),
                (
                    "features.augment",
                    self.features.augment,
                    not self.features.augment,
                    "empty: the test windows are never augmented (augment augments the training windows)",
                ),
                (
                    "augment_copies",
                    self.augment_copies,
                    isinstance(self.augment_copies, int)
                    and not isinstance(self.augment_copies, bool)
                    and self.augment_copies >= 1,
                    "at least 1",
                ),
                (
                    "augment_copies",
                    self.augment_copies,
                    not (isinstance(self.augment_copies, int) and self.augment_copies > 1)
                    or bool(self.augment),
                    "1 without augment (there is nothing to copy)",
                ),
            )
            if not ok
        ]
        problems += _speeds_problems(self.speeds, self.features)
        augment, augment_problems = _augment_in_chain_order(self.augment, self.features)
        object.__setattr__(self, "augment", augment)
        problems += augment_problems
        if problems:
            raise ValueError("invalid training settings: " + "; ".join(problems))
        if self.precision not in CHOICES:
            raise ValueError(f"precision must be one of {', '.join(CHOICES)}; got {self.precision!r}")
        if self.eval_every < 1:
            raise ValueError(f"eval_every must be at least 1; got {self.eval_every}")
        if self.save_every_s < 0:
            raise ValueError(f"save_every_s must be 0 or more; got {self.save_every_s}")

    def train_features(self) -> FeatureConfig:
        """The settings of the training windows: the test windows' settings
        with the training overlap."""
        return self.features.replace(overlap_s=self.train_overlap_s)

    def variant_features(self) -> list[FeatureConfig]:
        """The settings of every training variant's windows, in order: the
        training windows at each of ``speeds``, then each of
        ``augment_copies`` augmented copies at speed 1. With ``augment``
        and no ``speeds`` the unperturbed training windows come first, so
        that an utterance trains on them and on its copies. None without
        speed perturbation or augmentation (the training windows alone)."""
        train = self.train_features()
        at_speeds = [train.replace(speed=speed) for speed in self.speeds]
        if not self.augment:
            return at_speeds
        effects = ",".join(self.augment)
        copies = [train.replace(augment=effects, augment_copy=k) for k in range(1, self.augment_copies + 1)]
        return (at_speeds or [train]) + copies

    def stored_features(self) -> list[FeatureConfig]:
        """Every set of windows a run featurises, each once: the test
        windows, the training windows, then :meth:`variant_features`. A
        store serves the recipe when it holds them all (its own windows the
        test windows, the others its variants: :mod:`glam_py.store.variants`)."""
        return list(dict.fromkeys([self.features, self.train_features(), *self.variant_features()]))

    @classmethod
    def recipe_fields(cls) -> list[Field]:
        """The fields that carry command-line help in their metadata
        (``"help"``, and ``"choices"`` where the values are a fixed set):
        the train command makes their flags from these."""
        return [f for f in fields(cls) if "help" in f.metadata]


def _speeds_problems(speeds: tuple, features: FeatureConfig) -> list[str]:
    """Why ``speeds`` cannot be TrainConfig.speeds (at most one reason)."""
    if not isinstance(speeds, tuple) or not all(
        isinstance(s, (int, float)) and not isinstance(s, bool) for s in speeds
    ):
        return [f"speeds must be numbers, got {speeds!r}"]
    if len(set(speeds)) < len(speeds):
        return [f"speeds must differ from each other, got {speeds!r}"]
    for speed in speeds:
        try:
            features.replace(speed=speed)
        except ValueError as e:  # the frontend's range, in its words
            return [f"speeds must each be a valid speed ({e})"]
    return []


def _augment_in_chain_order(augment: tuple, features: FeatureConfig) -> tuple[tuple, list[str]]:
    """``augment`` in the order the frontend applies the effects, so that
    one set is one setting (and one cache key), and why it cannot be
    TrainConfig.augment (at most one reason; then ``augment`` as given)."""
    if not isinstance(augment, tuple) or not all(isinstance(a, str) for a in augment):
        return augment, [f"augment must be effect names, got {augment!r}"]
    try:
        effects = features.replace(augment=",".join(augment)).augment
    except ValueError as e:  # the frontend's names, in its words
        return augment, [f"augment must name known effects ({e})"]
    return (tuple(effects.split(",")) if effects else ()), []


PAPER = TrainConfig()
# The recipe two nested searches chose on speakers held out of EmoDB's
# training splits, never a test utterance (experiments/recipe_search.py;
# docs/research/recipe-search.md and refining-round.md), confirmed on
# thirty new random splits (docs/research/confirmation.md): every ingredient
# with the authors' learning rate, over 10 epochs of denser training windows
# at three speeds, which costs about 1.1x the paper's 50 epochs. The same
# for every model, so that comparisons under it are fair. Channel
# augmentation (one copy, every effect) joined it when a cross-corpus study
# chose it: +17 UA from EmoDB to URDU (-6 the other way), and EmoDB's
# leave-one-speaker-out WA 2 points higher (docs/research/cross-corpus.md).
BEST = PAPER.updated(
    {
        "lr": 1e-3,
        "epochs": 10,
        "speeds": (0.9, 1.0, 1.1),
        "train_overlap_s": 1.6,
        "schedule": "cosine",
        "warmup_epochs": 2,
        "label_smoothing": 0.1,
        "time_masks": 2,
        "time_mask_frames": 8,
        "freq_masks": 2,
        "freq_mask_bins": 3,
        "ema_decay": 0.99,
        "augment": ("noise", "reverb", "eq", "telephone", "gain", "codec"),
    }
)
PRESETS = ("paper", "authors", "best")
# What train uses without --preset (the demo corpus keeps its short recipe
# on the paper preset): the evidence says best (docs/research/confirmation.md).
DEFAULT_PRESET = "best"


def preset(name: str, model: str) -> TrainConfig:
    """The training settings of a named preset for ``model``.

    Parameters
    ----------
    name : str
        ``"paper"`` (the paper's one recipe), ``"authors"`` (the authors'
        run script for this model, registered with the model) or
        ``"best"`` (:data:`BEST`, the same for every model).
    model : str
        A registered model name.

    Raises
    ------
    ValueError
        For an unknown preset or model name.
    """
    # Imported here: the models pull in torch, which featurize (reading
    # these settings for the variants a recipe trains on) does not need.
    from glam_py import models

    if name == "paper":
        return PAPER
    if name == "authors":
        return PAPER.updated(models.spec(model).authors_recipe)
    if name == "best":
        models.spec(model)  # an unknown model is refused here as for the others
        return BEST
    raise ValueError(f"unknown preset {name!r}; choose {', '.join(PRESETS)}")


def load_overrides(path: str) -> dict:
    """A JSON file of TrainConfig fields that override the preset; feature
    settings nest under ``"features"`` and may name only some of them
    (``{"features": {"pad": "tile"}}``).

    Raises
    ------
    ValueError
        The file names a setting that does not exist, or gives an invalid value.
    """
    # utf-8-sig: editors on Windows may put a byte-order mark first.
    with open(path, encoding="utf-8-sig") as f:
        values = json.load(f)
    TrainConfig.from_dict(values)  # names checked here, not halfway through a run
    return values


@dataclass(frozen=True)
class RunConfig:
    """What a whole run does: models, protocol, splits, and the overrides
    applied on top of each model's preset."""

    models: tuple[str, ...] = ("glam",)
    # train's default, so that the Python API trains as the command line
    # does; "paper" reproduces the paper.
    preset: str = DEFAULT_PRESET
    # "random" 80/20, "speaker" (LOSO), "session" (IEMOCAP), "corpus" (with
    # several corpora: train on the others, test on one), or "all": one
    # training on every utterance, no test split (the model one deploys).
    protocol: str = "random"
    # Under the corpus protocol, the corpora tested in turn (empty: each).
    test_corpora: tuple[str, ...] = ()
    repeats: int = 5
    seed: int = 1
    stratify: bool = False
    alphas: tuple[float, ...] = ()
    overrides: dict = field(default_factory=dict)  # TrainConfig.updated() values
    threads: int | None = None
    device: str = "cpu"
    ddp: bool = False  # under torchrun: all ranks train each split together
    # Splits of one model trained at once as one batched network
    # (glam_py.train.parallel): a count, or "auto" for the hardware's.
    parallel_splits: int | str = 1
    # Splits trained side by side in worker processes, the threads shared
    # among them (glam_py.train.workers): a count, or "auto" (one per CPU
    # thread; 1 on an accelerator, under torchrun and with parallel_splits).
    workers: int | str = "auto"

    def __post_init__(self) -> None:
        # One run featurises the corpus once, so every model must ask for
        # the same windows.
        first, *others = self.models
        ref = self.train_config(first)
        if self.protocol == "all" and any(self.train_config(m).select == "test" for m in self.models):
            raise ValueError(
                "--select-on-test (select test) needs a test split, and --protocol all has none; "
                "choose the epoch on a validation split with --select val"
            )
        for model in others:
            cfg = self.train_config(model)
            diffs = ref.features.differences(cfg.features)
            for name in ("train_overlap_s", "speeds", "augment", "augment_copies", "normalize"):
                if getattr(ref, name) != getattr(cfg, name):
                    diffs[name] = (getattr(ref, name), getattr(cfg, name))
            if diffs:
                shown = "; ".join(f"{name}: {first} {a}, {model} {b}" for name, (a, b) in diffs.items())
                raise ValueError(
                    f"the models' {self.preset} presets ask for different windows "
                    f"({shown}); train them in separate runs or set those settings"
                )

    def train_config(self, model: str, alpha: float | None = None) -> TrainConfig:
        config = preset(self.preset, model).updated(self.overrides)
        return config if alpha is None else config.replace(alpha=alpha)
