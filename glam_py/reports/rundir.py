"""What a report reads from a run directory written by ``python -m
glam_py.train``: results.json (table, models, splits in run order), each
split's own file (its test utterance ids), the checkpoints and stores.json
(where the test windows live)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from glam_py.train import results as tables
from glam_py.train.config import RunConfig
from glam_py.train.run import STORES_FILE, _variants, split_path


class ReportError(ValueError):
    pass


@dataclass
class RunRecord:
    root: Path
    labels: list[str]
    models: dict[str, list[dict]]  # result key -> split records, run order
    table: str  # the results.md table, rendered from results.json in the run's order
    test_store: Path | None  # None when the run predates stores.json

    def checkpoint(self, key: str, split: str) -> Path:
        return split_path(self.root, "models", key, split, ".pt")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ReportError(f"{path}: not valid JSON ({e})") from e


def load_run(run_dir: Path) -> RunRecord:
    results_path = run_dir / "results.json"
    if not results_path.is_file():
        raise ReportError(f"{results_path} is missing: {run_dir} is not a finished run directory "
                          f"(python -m glam_py.train writes it once every split is done)")
    results = _read_json(results_path)
    # results.json stores its keys sorted; the run's order is the table's.
    run = results["config"]["run"]
    order = [key for key, _, _ in _variants(RunConfig(models=tuple(run["models"]), alphas=tuple(run["alphas"])))]
    results["models"] = dict(sorted(results["models"].items(),
                                    key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
    models = {}
    for key, entry in results["models"].items():
        splits = []
        for record in entry["splits"]:
            # results.json leaves the test ids out; the split's own file has them.
            own = split_path(run_dir, "splits", key, record["split"], ".json")
            test_ids = _read_json(own).get("test_ids") if own.is_file() else None
            splits.append({**record, "test_ids": test_ids})
        models[key] = splits
    stores_path = run_dir / STORES_FILE
    test_store = Path(_read_json(stores_path)["test"]) if stores_path.is_file() else None
    return RunRecord(run_dir, results["labels"], models, tables.markdown(results),
                     test_store)
