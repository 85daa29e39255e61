"""What a report reads from a run directory written by ``python -m
glam_py.train`` (its layout: :class:`glam_py.rundir.RunDir`): the results
(table, models, splits in run order), each split's own file (its test
utterance ids and their confidences), and where the test windows live;
under the corpus protocol, each split's test corpus and each corpus's
test store."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from glam_py.rundir import RunDir
from glam_py.train import results as tables
from glam_py.train.protocol import corpus_split_name


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
    # The corpus protocol's test corpora in run order (empty under the other
    # protocols); each split record's "test_corpus" names its own (else None).
    test_corpora: list[str] = field(default_factory=list)
    # The test store of each test corpus whose store stores.json records.
    corpus_stores: dict[str, Path] = field(default_factory=dict)


def _tested_corpora(results: dict) -> dict[str, str]:
    """Split name -> test corpus, for a corpus-protocol run (results.json
    names its test corpora, config.json the seeds), rebuilt with the
    protocol's own split names: the split files record the name only."""
    if "test_corpora" not in results:
        return {}
    run = results["config"]["run"]
    seeds = range(run["seed"], run["seed"] + run["repeats"])
    return {
        corpus_split_name(corpus, seed, run["repeats"]): corpus
        for corpus in results["test_corpora"]
        for seed in seeds
    }


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
        tested = _tested_corpora(results)
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
                    {
                        **record,
                        "test_ids": own.get("test_ids"),
                        "reliability": own.get("reliability"),
                        "test_corpus": tested.get(record["split"]),
                    }
                )
            models[key] = splits
        try:
            stores = layout.read_stores()
        except FileNotFoundError:
            stores = {}
    except ValueError as e:  # a file that is not valid JSON
        raise ReportError(str(e)) from e
    # In split order: results.json sorts its test corpora by name.
    test_corpora = list(
        dict.fromkeys(s["test_corpus"] for splits in models.values() for s in splits if s["test_corpus"])
    )
    corpus_stores = stores.get("test_corpora")
    if corpus_stores is None and test_corpora and "test" in stores:
        # Runs trained before each corpus's test store was recorded have the
        # first corpus's alone; without --test-corpus it is the first tested.
        first_tested = not results["config"]["run"].get("test_corpora")
        corpus_stores = {test_corpora[0]: stores["test"]} if first_tested else {}
    return RunRecord(
        layout,
        results["labels"],
        models,
        tables.markdown(results),
        stores.get("test"),
        test_split=results.get("protocol") != "all",
        test_corpora=test_corpora,
        corpus_stores=corpus_stores or {},
    )
