"""What a report reads from a run directory written by ``python -m
glam_py.train`` (its layout: :class:`glam_py.rundir.RunDir`): the results
(table, models, splits in run order), each split's own file (its test
utterance ids and their confidences), and where the test windows live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from glam_py.rundir import RunDir
from glam_py.train import results as tables


class ReportError(ValueError):
    pass


@dataclass
class RunRecord:
    layout: RunDir
    labels: list[str]
    models: dict[str, list[dict]]  # result key -> split records, run order
    table: str  # the results.md table, rendered from results.json in the run's order
    test_store: Path | None  # None when the run predates stores.json
    test_split: bool = True  # False for --protocol all: no test metrics, confusion or map


def load_run(run_dir: Path) -> RunRecord:
    layout = RunDir(run_dir)
    if not layout.results_file.is_file():
        raise ReportError(
            f"{layout.results_file} is missing: {run_dir} is not a finished run directory "
            f"(python -m glam_py.train writes it once every split is done)"
        )
    try:
        results = layout.read_results()
        # results.json stores its keys sorted; the run's order is the table's.
        order = [v.key for v in layout.variants()]
        results["models"] = dict(
            sorted(
                results["models"].items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)
            )
        )
        models = {}
        for key, entry in results["models"].items():
            splits = []
            for record in entry["splits"]:
                # results.json leaves the test ids and the per-utterance
                # confidences out; the split's own file has them.
                try:
                    own = layout.read_split(key, record["split"])
                except FileNotFoundError:
                    own = {}
                splits.append(
                    {**record, "test_ids": own.get("test_ids"), "reliability": own.get("reliability")}
                )
            models[key] = splits
        try:
            test_store = layout.read_stores()["test"]
        except FileNotFoundError:
            test_store = None
    except ValueError as e:  # a file that is not valid JSON
        raise ReportError(str(e)) from e
    return RunRecord(
        layout,
        results["labels"],
        models,
        tables.markdown(results),
        test_store,
        test_split=results.get("protocol") != "all",
    )
