"""A whole run: features computed once (cached), every model trained on
every split, results gathered into tables; every finished split and every
epoch saved, so the same command resumes a killed run."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from glam_py import corpora
from glam_py.features import FeatureConfig
from glam_py.lock import WriterLock
from glam_py.precision import resolve
from glam_py.rundir import RunDir, variants
from glam_py.store import FeatureStore, StoreMismatch, write_store
from glam_py.store.variants import config_key, open_variant
from glam_py.train import parallel
from glam_py.train import results as tables
from glam_py.train.config import RunConfig, TrainConfig
from glam_py.train.data import Utterances, load_corpora
from glam_py.train.distributed import DataParallel, World
from glam_py.train.job import Job, save_training, train_job
from glam_py.train.metrics import summarize
from glam_py.train.progress import Silent
from glam_py.train.protocol import Split, all_utterances, corpus_splits, grouped_splits, random_splits
from glam_py.train.workers import start_forkserver, train_in_workers, worker_count

# How long a run waits for another run featurising the same cached store.
CACHE_WAIT_S = 3600.0


@dataclass
class CorpusSource:
    """Where the utterances come from: a corpus to featurise, or a store."""

    name: str
    root: Path | None = None
    subset: str = "full"
    manifest: Path | None = None
    labels: dict[str, str] | None = None
    store: Path | None = None
    iemocap_happy: str = "merge"
    path_column: str | None = None
    label_column: str = "label"
    speaker_column: str | None = None
    # The corpus's name in tables and split names when a run has several
    # (cli.corpus_name); ``name`` is its reader.
    title: str | None = None

    @property
    def shown(self) -> str:
        return self.title or self.name

    def describe(self) -> dict:
        """What config.json records of the corpus."""
        return {
            "name": self.name,
            "root": str(self.root),
            "subset": self.subset,
            "store": str(self.store),
            "labels": self.labels,
            "iemocap_happy": self.iemocap_happy,
        }

    def load(self) -> corpora.Corpus:
        return corpora.load(
            self.name,
            self.root,
            subset=self.subset,
            manifest=self.manifest,
            labels=self.labels,
            iemocap_happy=self.iemocap_happy,
            path_column=self.path_column,
            label_column=self.label_column,
            speaker_column=self.speaker_column,
        )

    def fingerprint(self) -> str:
        fields = [
            self.name,
            str(Path(self.root).resolve()) if self.root else None,
            self.subset,
            str(self.manifest),
            self.labels,
            self.iemocap_happy,
        ]
        # Only when not the defaults, so caches made before the columns could be named stay valid.
        columns = (self.path_column or "path", self.label_column)
        if columns != ("path", "label"):
            fields += columns
        if self.speaker_column is not None:
            fields.append(self.speaker_column)
        key = json.dumps(fields, sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()[:12]


def stores_for(
    source: CorpusSource, cfg: TrainConfig, cache: Path, threads: int | None, log: Callable[[str], None]
) -> tuple[FeatureStore, FeatureStore]:
    """The training and test stores, featurised once per corpus and
    feature setting and reused by every split, model and later run.

    A given store's own windows are the test windows, so they must have
    the test features ``cfg`` asks for; the training windows are its own
    too when ``cfg`` trains at their overlap, else its variant at the
    training overlap (:mod:`glam_py.store.variants`).

    Raises
    ------
    StoreMismatch
        The given store was featurised with other settings (the message
        names each one), or lacks the training windows.
    """
    if source.store is not None:
        try:
            store = FeatureStore(source.store, expected=cfg.features)
        except StoreMismatch as e:
            raise StoreMismatch(
                f"{e}; ask for the store's settings (the feature flags or "
                f"--config) or featurise it again with these"
            ) from None
        return open_variant(store, cfg.train_features()), store
    train, test = cached_stores(source, [cfg.train_features(), cfg.features], cache, threads, log)
    return train, test


def speed_stores(
    source: CorpusSource, cfg: TrainConfig, cache: Path, threads: int | None, log: Callable[[str], None]
) -> list[FeatureStore]:
    """The training store of each of ``cfg.variant_features()``: at each
    of ``cfg.speeds`` (speed perturbation), then each augmented copy
    (``cfg.augment``), featurised once and cached like :func:`stores_for`'s,
    or a given store's variants; none without either. The store at speed 1
    is the unperturbed training store.

    Raises
    ------
    StoreMismatch
        A given store lacks one of them (``featurize`` with the recipe's
        flags writes them).
    """
    configs = cfg.variant_features()
    if source.store is not None:
        store = FeatureStore(source.store, expected=cfg.features)
        return [open_variant(store, config) for config in configs]
    return cached_stores(source, configs, cache, threads, log) if configs else []


def cached_stores(
    source: CorpusSource,
    configs: Sequence[FeatureConfig],
    cache: Path,
    threads: int | None,
    log: Callable[[str], None],
) -> list[FeatureStore]:
    """A store of ``source``'s corpus for each of ``configs``, in ``cache``:
    featurised by the first run that asks for it, found there by later
    ones (keyed by the corpus and the settings)."""
    corpus = source.load()
    out = []
    for config in configs:
        root = cache / f"{source.name}-{source.fingerprint()}-{config_key(config)}"

        def write(root: Path = root, config: FeatureConfig = config):
            # Runs with other --out share the cache: one featurises, the
            # others wait for it and find the store complete.
            with WriterLock(root, "feature store", wait_s=CACHE_WAIT_S):
                return write_store(
                    root,
                    corpus.utterances,
                    config,
                    left_out=corpus.left_out,
                    threads=threads,
                    classes=corpus.classes,
                )

        try:
            report = write()
        except StoreMismatch:
            log(f"{root}: the corpus changed since it was cached; featurising again")
            shutil.rmtree(root)
            report = write()
        if report.shards_written:
            speed = f", speed {config.speed}" if config.speed != 1 else ""
            if config.augment:
                speed += f", augmented copy {config.augment_copy} ({config.augment})"
            log(
                f"featurised {len(corpus.utterances)} files into {root} (overlap {config.overlap_s} s{speed})"
            )
        out.append(FeatureStore(root, expected=config))
    return out


def make_splits(run: RunConfig, data: Utterances) -> list[Split]:
    if run.protocol == "random":
        return random_splits(list(data.labels), run.repeats, run.seed, run.stratify)
    if run.protocol == "speaker":
        return grouped_splits(data.speakers, "speaker", run.seed)
    if run.protocol == "session":
        return grouped_splits(data.sessions, "session", run.seed)
    if run.protocol == "corpus":
        tests = run.test_corpora or tuple(dict.fromkeys(data.corpora))
        return corpus_splits(data.corpora, tests, run.repeats, run.seed)
    if run.protocol == "all":
        return [all_utterances(len(data), run.seed)]
    raise ValueError(f"unknown protocol {run.protocol!r}; choose random, speaker, session, corpus or all")


def planned_trainings(run: RunConfig, rows: int) -> int:
    """How many trainings the run holds, known before the corpus is read:
    exact for the random protocol, "all" and the corpus protocol with its
    test corpora named, else a lower bound (2 groups)."""
    splits = {"random": run.repeats, "all": 1, "corpus": run.repeats * (len(run.test_corpora) or 2)}.get(
        run.protocol, 2
    )
    return splits * rows


def corpus_stores(
    sources: Sequence[CorpusSource],
    cfg: TrainConfig,
    cache: Path,
    threads: int | None,
    log: Callable[[str], None],
) -> list[tuple[str, tuple[FeatureStore, ...]]]:
    """Per corpus, its name and stores: training, test, then the training
    store at each speed (:func:`stores_for`, :func:`speed_stores`)."""
    return [
        (
            source.shown,
            (*stores_for(source, cfg, cache, threads, log), *speed_stores(source, cfg, cache, threads, log)),
        )
        for source in sources
    ]


def execute(
    run: RunConfig,
    sources: Sequence[CorpusSource],
    run_dir: Path,
    cache: Path,
    *,
    world: World = World(),
    log: Callable[[str], None] = print,
    progress: Silent = Silent(),
) -> dict | None:
    """Trains this rank's share of the splits (with ``run.ddp``: every
    split, together with the other ranks); rank 0 (or a single process)
    returns and writes the results once every split is done."""
    run_dir.mkdir(parents=True, exist_ok=True)
    out_dir = RunDir(run_dir)
    base = run.train_config(run.models[0])
    rows = variants(run.models, run.alphas)
    device = world.device(run.device)
    threads = run.threads or torch.get_num_threads()
    if worker_count(run, world.size, device, threads, planned_trainings(run, len(rows))) > 1:
        start_forkserver()  # its imports overlap the featurising
    if not world.is_main:
        world.barrier()  # rank 0 featurises, the others then read its stores
    stores = corpus_stores(sources, base, cache, run.threads, log)
    if world.is_main:
        world.barrier()
    data = load_corpora(stores, base.normalize)
    # The first corpus's stores stand for the run's settings: every corpus
    # was featurised with the same ones.
    train_store, test_store = stores[0][1][:2]
    splits = make_splits(run, data)
    # What "auto" means here is recorded, so a resumed run on other hardware
    # is refused rather than mixing precisions.
    chosen = resolve(base.precision, device)
    if chosen.note and world.is_main:
        log(f"note: {chosen.note}")
    resolved = {
        "run": {**run.__dict__, "models": list(run.models), "alphas": list(run.alphas)},
        "train": {
            key: run.train_config(m, a)
            .replace(precision=resolve(run.train_config(m, a).precision, device).precision)
            .to_dict()
            for key, m, a in rows
        },
        "corpus": sources[0].describe()
        if len(sources) == 1
        else {"corpora": {source.shown: source.describe() for source in sources}},
        "features": {"train": train_store.config.to_dict(), "test": test_store.config.to_dict()},
        "labels": data.class_names,
        "n_utterances": len(data),
    }
    defaults = {
        "run": dataclasses.asdict(RunConfig()),
        "train": {key: TrainConfig().to_dict() for key in resolved["train"]},
        "features": {side: FeatureConfig().to_dict() for side in ("train", "test")},
    }
    out_dir.record_config(resolved, defaults)
    # The report reads it to embed the test utterances again, each corpus's
    # from its own store (the corpus protocol tests each in turn).
    out_dir.write_stores(train_store.root, test_store.root, {name: group[1].root for name, group in stores})
    ddp = run.ddp and world.size > 1
    jobs = [(key, model, alpha, split) for key, model, alpha in rows for split in splits]
    mine = [job for i, job in enumerate(jobs) if ddp or i % world.size == world.rank]
    done = [out_dir.split_file(key, split.name) for key, _, _, split in mine]
    progress.plan(len(mine), sum(path.exists() for path in done))

    def save(job: Job, out: dict) -> None:
        log(save_training(run, job, run_dir, data, test_store.config, out))

    pending = [job for job, path in zip(mine, done) if not path.exists()]
    workers = worker_count(run, world.size, device, threads, len(pending))
    if workers > 1:
        train_in_workers(
            run,
            pending,
            [(name, tuple(store.root for store in group)) for name, group in stores],
            base.normalize,
            run_dir,
            device,
            workers,
            threads,
            progress,
            log,
        )
        pending = []
    if run.parallel_splits != 1 and not ddp:
        train_in_groups(run, data, pending, out_dir, device, progress, save)
        pending = []
    for job in pending:
        out = train_job(run, job, data, run_dir, device, progress, DataParallel(world) if ddp else None)
        progress.end_training()
        if ddp and not world.is_main:
            world.barrier()  # rank 0 writes the split's results first
            continue
        save(job, out)
        if ddp:
            world.barrier()
    if not world.is_main:
        return None
    left_out = test_store.skipped_summary()
    if left_out:
        log(left_out)
    return gather(run_dir, run, sources, [(k, s) for k, _, _, s in jobs], data.class_names, base.select)


def train_in_groups(
    run: RunConfig,
    data: Utterances,
    pending: list[Job],
    out_dir: RunDir,
    device: str,
    progress: Silent,
    save: Callable[[Job, dict], None],
) -> None:
    """The pending splits of each table row trained ``run.parallel_splits``
    at a time as one batched network (:mod:`glam_py.train.parallel`), each
    saved by ``save`` as its group finishes.

    Raises
    ------
    ValueError
        A model cannot train batched (the message says why), before any
        training.
    """
    n_classes = len(data.class_names)
    for model in dict.fromkeys(model for _, model, _, _ in pending):
        problem = parallel.refusal(model, run.train_config(model))
        if problem:
            raise ValueError(problem)
    by_row: dict[tuple[str, str, float], list[Split]] = {}
    for key, model, alpha, split in pending:
        by_row.setdefault((key, model, alpha), []).append(split)
    for (key, model, alpha), splits in by_row.items():
        cfg = run.train_config(model, alpha)
        k = parallel.resolve_splits(run.parallel_splits, model, cfg, n_classes, data.input_shape, device)
        for group in parallel.groups(splits, k):
            outs = parallel.train_splits(
                model,
                cfg,
                data,
                group,
                device=device,
                progress=progress,
                state_path=out_dir.state_file(key, parallel.group_name(group)),
            )
            for split, out in zip(group, outs):
                progress.end_training()
                save((key, model, alpha, split), out)


def gather(
    run_dir: Path,
    run: RunConfig,
    sources: Sequence[CorpusSource],
    jobs: Sequence[tuple[str, Split]],
    labels: list[str],
    select: str,
) -> dict | None:
    """Writes results.json / .md / .csv when every split's result is there.
    Under the corpus protocol the results are summarised per test corpus
    too (``results["test_corpora"]``), each table naming its corpus."""
    out_dir = RunDir(run_dir)
    per_model: dict[str, list[dict]] = {}
    per_corpus: dict[str, dict[str, list[dict]]] = {}
    for key, split in jobs:
        path = out_dir.split_file(key, split.name)
        if not path.exists():
            return None
        # The test ids and the per-utterance confidences serve the report,
        # which reads them from the split files; in results.json they would
        # repeat every test set per model.
        split_result = out_dir.read_split(key, split.name)
        split_result.pop("test_ids", None)
        split_result.pop("reliability", None)
        per_model.setdefault(key, []).append(split_result)
        if split.test_corpus is not None:
            per_corpus.setdefault(split.test_corpus, {}).setdefault(key, []).append(split_result)
    n_splits = len(jobs) // max(1, len(per_model))
    summary = tables.deployment_summary if run.protocol == "all" else summarize
    names = [source.shown for source in sources]
    results = {
        "title": tables.title(" + ".join(names), run.protocol, n_splits, select),
        "protocol": run.protocol,
        "config": out_dir.read_config(),
        "labels": labels,
        "models": {key: {"splits": splits, "summary": summary(splits)} for key, splits in per_model.items()},
    }
    if per_corpus:
        results["test_corpora"] = {
            corpus: {
                "title": tables.title(
                    f"{' + '.join(n for n in names if n != corpus)} -> {corpus}",
                    run.protocol,
                    len(next(iter(rows.values()))),
                    select,
                ),
                "models": {key: summarize(splits) for key, splits in rows.items()},
                "splits": len(next(iter(rows.values()))),
            }
            for corpus, rows in per_corpus.items()
        }
    out_dir.write_results(results, tables.markdown(results), tables.to_csv(results))
    return results
