"""One training of a run: a table row's model trained on one split, then
saved. The main process (:mod:`glam_py.train.run`) and the split workers
(:mod:`glam_py.train.workers`) both train and save a job through here."""

from __future__ import annotations

from pathlib import Path

from glam_py.atomic import write_json
from glam_py.checkpoints import Checkpoint
from glam_py.features import FeatureConfig
from glam_py.rundir import RunDir
from glam_py.train import results as tables
from glam_py.train.config import RunConfig
from glam_py.train.data import Utterances
from glam_py.train.distributed import DataParallel
from glam_py.train.progress import Silent
from glam_py.train.protocol import Split
from glam_py.train.trainer import train_split

Job = tuple[str, str, float, Split]  # result key, model, mixup alpha, split


def train_job(
    run: RunConfig,
    job: Job,
    data: Utterances,
    run_dir: Path,
    device: str,
    progress: Silent,
    ddp: DataParallel | None = None,
) -> dict:
    """Trains one table row's model on one split (resuming its state file
    in ``run_dir``), as :func:`glam_py.train.trainer.train_split` returns."""
    key, model, alpha, split = job
    return train_split(
        model,
        run.train_config(model, alpha),
        data,
        split,
        device=device,
        progress=progress,
        state_path=RunDir(run_dir).state_file(key, split.name),
        parallel=ddp,
    )


def save_training(
    run: RunConfig, job: Job, run_dir: Path, data: Utterances, features: FeatureConfig, out: dict
) -> str:
    """Writes a finished training's checkpoint (``features``: the test
    windows' settings, which prediction uses) and its split file, the
    split file last (it marks the training done); returns its result line."""
    key, model, alpha, split = job
    out_dir = RunDir(run_dir)
    Checkpoint(
        model_name=model,
        n_classes=len(data.class_names),
        input_shape=data.input_shape,
        labels=tuple(data.class_names),
        features=features,
        average=run.train_config(model, alpha).average,
        state_dict=out["model"].state_dict(),
        normalize=run.train_config(model, alpha).normalize,
        temperature=out["metrics"]["temperature"],
    ).save(out_dir.model_file(key, split.name))
    write_json(
        out_dir.split_file(key, split.name),
        {**out["metrics"], "test_ids": [data.ids[i] for i in split.test]},
    )
    return f"{key} {split.name}: {tables.split_line(out['metrics'])}"
