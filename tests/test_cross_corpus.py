"""Several corpora in one run: the corpus flags repeated once per corpus,
leave-one-corpus-out with results per test corpus, a model trained on every
corpus that predict takes, and every bad combination refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from glam_py import cli, predict, report
from glam_py.corpora.demo import generate_demo_corpus
from glam_py.train import __main__ as train
from glam_py.train.protocol import corpus_splits


@pytest.fixture(scope="module")
def two(tmp_path_factory) -> Path:
    """Two small synthetic corpora of the same four classes, different
    voices (seeds) and sample rates: ``root/north`` and ``root/south``."""
    root = tmp_path_factory.mktemp("two")
    generate_demo_corpus(root / "north", n_speakers=2, per_class_per_speaker=2, seed=0)
    generate_demo_corpus(root / "south", n_speakers=2, per_class_per_speaker=2, seed=1, sample_rate=22050)
    return root


def _corpora(root: Path) -> list[str]:
    return [
        "--corpus",
        "csv",
        "--root",
        str(root / "north"),
        "--corpus",
        "csv",
        "--root",
        str(root / "south"),
    ]


def _exit(argv: list[str], capsys, command=train) -> tuple[int, str]:
    try:
        code = cli.run(lambda: command.main(argv))
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.strip()


def test_each_corpus_takes_the_flags_that_follow_its_corpus_flag():
    parser = train.build_parser()
    args = parser.parse_args(
        [
            "--root",
            "a",
            "--corpus",
            "emodb",
            "--epochs",
            "2",
            "--corpus",
            "csv",
            "--root",
            "b",
            "--labels",
            "x,y",
        ]
    )
    first, second = cli.corpus_namespaces(parser, args)
    assert (first.corpus, first.root, first.labels) == ("emodb", Path("a"), None)
    assert (second.corpus, second.root, second.labels) == ("csv", Path("b"), "x,y")
    assert first.epochs == second.epochs == 2  # the other flags are the run's
    one = parser.parse_args(["--corpus", "csv", "--root", "c"])
    (only,) = cli.corpus_namespaces(parser, one)
    assert (only.corpus, only.root) == ("csv", Path("c"))


def test_corpus_splits_leave_each_corpus_out_in_turn():
    corpora = ["a", "a", "b", "c", "b"]
    splits = corpus_splits(corpora, ["a", "b", "c"], 1, 7)
    assert [(s.name, s.train, s.test, s.test_corpus) for s in splits] == [
        ("corpus a", (2, 3, 4), (0, 1), "a"),
        ("corpus b", (0, 1, 3), (2, 4), "b"),
        ("corpus c", (0, 1, 2, 4), (3,), "c"),
    ]
    seeded = corpus_splits(corpora, ["b"], 2, 7)
    assert [(s.name, s.seed) for s in seeded] == [("corpus b seed7", 7), ("corpus b seed8", 8)]
    with pytest.raises(ValueError, match="at least two corpora"):
        corpus_splits(["a", "a"], ["a"], 1, 1)


def test_leave_one_corpus_out_reports_each_test_corpus(two, tmp_path):
    out = tmp_path / "run"
    argv = [*_corpora(two), "--protocol", "corpus", "--epochs", "1", "--pad", "tile", "--preset", "paper"]
    argv += ["--out", str(out), "--cache", str(tmp_path / "cache"), "--no-report", "--quiet"]
    assert cli.run(lambda: train.main(argv)) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["test_corpora"]) == {"north", "south"}
    assert results["test_corpora"]["south"]["title"].startswith("north -> south, corpus protocol")
    splits = {s["split"]: s for s in results["models"]["glam"]["splits"]}
    assert set(splits) == {"corpus north", "corpus south"}
    # Each test set is the whole other corpus: 2 speakers x 4 classes x 2.
    for name, split in splits.items():
        assert sum(map(sum, split["confusion"])) == 16, name
        assert split["train_utterances"] == 16
    table = (out / "results.md").read_text()
    assert "-> north" in table and "-> south" in table
    config = json.loads((out / "config.json").read_text())
    assert set(config["corpus"]["corpora"]) == {"north", "south"}
    rows = (out / "results.csv").read_text().splitlines()
    assert rows[0].startswith("test_corpus,model,WA_mean")
    assert {r.split(",")[0] for r in rows[1:]} == {"north", "south"}


def test_a_model_trained_on_every_corpus_predicts(two, tmp_path, capsys):
    out = tmp_path / "all"
    argv = [*_corpora(two), "--protocol", "all", "--epochs", "1", "--pad", "tile", "--preset", "paper"]
    argv += ["--out", str(out), "--cache", str(tmp_path / "cache"), "--no-report", "--quiet"]
    assert cli.run(lambda: train.main(argv)) == 0
    capsys.readouterr()
    results = json.loads((out / "results.json").read_text())
    assert results["models"]["glam"]["splits"][0]["train_utterances"] == 32
    wav = sorted((two / "south" / "wav").glob("*.wav"))[0]
    code = cli.run(lambda: predict.main(["--checkpoint", str(out), str(wav), "--format", "csv", "--quiet"]))
    assert code == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert len(rows) == 2 and rows[1].split(",")[0] == str(wav)


@pytest.mark.parametrize(
    "extra, says",
    [
        (
            ["--protocol", "corpus", "--corpus", "csv", "--root", "{north}"],
            "--protocol corpus needs two or more corpora",
        ),
        (["{both}", "--test-corpus", "north"], "--test-corpus applies only with --protocol corpus"),
        (["{both}", "--protocol", "corpus", "--test-corpus", "east"], "no corpus is named 'east'"),
        (["{both}", "--corpus-name", "north"], "corpora 1 and 2 are both named 'north'"),
        (
            ["--corpus", "csv", "--root", "{north}", "--corpus-name", "n"],
            "--corpus-name applies only with several",
        ),
        (["{both}", "--store", "{north}"], "--store replaces the corpus"),
        (["--corpus", "csv", "--root", "{north}", "--root", "{south}"], "--root: given twice for one corpus"),
        (
            ["--corpus", "csv", "--root", "{north}", "--corpus", "csv"],
            "corpus 2 of 2): --corpus csv needs --root",
        ),
        (
            ["{both}", "--labels", "happy:glad,sad,angry,neutral"],
            "has the class 'glad', which the first corpus (north: neutral, happy, sad, angry) lacks",
        ),
    ],
)
def test_bad_combinations_are_refused_in_one_line(two, tmp_path, capsys, extra, says):
    argv = []
    for a in extra:
        if a == "{both}":
            argv += _corpora(two)
        else:
            argv.append(a.format(north=two / "north", south=two / "south"))
    code, err = _exit([*argv, "--out", str(tmp_path / "run"), "--epochs", "1"], capsys)
    assert code in (1, 2) and len(err.splitlines()) == 1 and says in err, err
    assert not (tmp_path / "run").exists()


def test_featurize_takes_one_corpus(two, tmp_path, capsys):
    from glam_py import featurize

    code, err = _exit([*_corpora(two), "--out", str(tmp_path / "s")], capsys, featurize)
    assert code == 2 and "--corpus given 2 times: this command takes one corpus" in err


def test_the_corpus_sampler_draws_each_training_corpus_equally():
    import numpy as np

    from glam_py.train.data import WindowRows
    from glam_py.train.trainer import corpus_draws

    windows = [np.zeros((n, 2, 3), np.float32) for n in (10, 20, 5, 5)]
    rows = WindowRows(windows, np.zeros(4, dtype=int), (0, 1, 2, 3))
    draw = corpus_draws(rows, ["big", "big", "small", "small"], (0, 1, 2, 3))
    assert np.isclose(draw[:30].sum(), 0.5) and np.isclose(draw[30:].sum(), 0.5)
    assert np.allclose(draw[:30], draw[0]) and np.allclose(draw[30:], draw[30])
    assert corpus_draws(rows, ["a", "a", "a", "a"], (0, 1, 2, 3)) is None
    assert corpus_draws(rows, [], (0, 1, 2, 3)) is None
    picked = np.random.default_rng(0).choice(len(rows), size=40_000, p=draw)
    assert abs((picked >= 30).mean() - 0.5) < 0.01


@pytest.fixture(scope="module")
def corpus_run(two, tmp_path_factory) -> Path:
    """A finished corpus-protocol run, two seeds per test corpus, its
    report written by training itself."""
    out = tmp_path_factory.mktemp("corpus-run") / "run"
    argv = [
        *_corpora(two),
        "--protocol",
        "corpus",
        "--repeats",
        "2",
        "--epochs",
        "1",
        "--pad",
        "tile",
        "--preset",
        "paper",
    ]
    argv += ["--out", str(out), "--cache", str(out.parent / "cache"), "--quiet"]
    assert cli.run(lambda: train.main(argv)) == 0
    return out


def _split_files(run: Path, corpus: str) -> list[dict]:
    return [
        json.loads(p.read_text()) for p in sorted((run / "splits").glob(f"glam__corpus_{corpus}_seed*.json"))
    ]


def test_the_report_draws_each_test_corpus_apart(corpus_run):
    from glam_py.train.metrics import expected_calibration_error

    page = (corpus_run / "report" / "report.md").read_text()
    # Pooled over the corpora the figures would mix unrelated test sets.
    assert not (corpus_run / "report" / "confusion_glam.png").exists()
    assert not (corpus_run / "report" / "reliability_glam.png").exists()
    for corpus in ("north", "south"):
        splits = _split_files(corpus_run, corpus)
        assert len(splits) == 2
        for figure in ("confusion", "reliability"):
            assert (corpus_run / "report" / f"{figure}_glam_{corpus}.png").stat().st_size > 0
        confidence = [c for s in splits for c in s["reliability"]["confidence"]]
        correct = [c for s in splits for c in s["reliability"]["correct"]]
        ece = expected_calibration_error(np.array(confidence), np.array(correct, dtype=float))
        section = page.split(f"### Tested on {corpus}")[1].split("###")[0]
        assert f"2 splits pooled: **{ece:.2f}%**" in section
        assert f"(confusion_glam_{corpus}.png)" in page and f"(reliability_glam_{corpus}.png)" in page
    assert page.index("### Tested on north") < page.index("### Tested on south")


def test_per_corpus_confusion_sums_that_corpus_splits(corpus_run, tmp_path):
    _, (m,) = report.write_report(corpus_run, out=tmp_path, tsne=False, log=lambda _: None)
    assert [c.corpus for c in m.corpora] == ["north", "south"]
    for c in m.corpora:
        counts = m.data["corpora"][c.corpus]["confusion"]["counts"]
        expected = np.sum([s["confusion"] for s in _split_files(corpus_run, c.corpus)], axis=0)
        np.testing.assert_array_equal(counts, expected)
        assert counts.sum() == 2 * 16  # two seeds, each testing all of the corpus
        assert c.ece == m.data["corpora"][c.corpus]["reliability"]["ECE"]


def test_the_tsne_maps_the_chosen_split_from_its_corpus_store(corpus_run, tmp_path):
    from glam_py.store import FeatureStore

    stores = json.loads((corpus_run / "stores.json").read_text())
    assert stores["test"] == stores["test_corpora"]["north"] != stores["test_corpora"]["south"]
    chosen = _split_files(corpus_run, "south")[1]
    _, (m,) = report.write_report(corpus_run, out=tmp_path, split=chosen["split"], log=lambda _: None)
    label_of = {
        f"south/{r['utterance_id']}": r["label"] for r in FeatureStore(stores["test_corpora"]["south"]).index
    }
    class_names = json.loads((corpus_run / "results.json").read_text())["labels"]
    assert m.tsne is not None and len(m.data["tsne"]["points"]) == len(chosen["test_ids"]) == 16
    assert [class_names[k] for k in m.data["tsne"]["labels"]] == [label_of[u] for u in chosen["test_ids"]]
    # The map reads south's recorded store: gone, the map gives way to a note naming it.
    gone = tmp_path / "moved-away"
    moved = {**stores, "test_corpora": {**stores["test_corpora"], "south": str(gone)}}
    (corpus_run / "stores.json").write_text(json.dumps(moved))
    try:
        _, (m,) = report.write_report(corpus_run, out=tmp_path, split=chosen["split"], log=lambda _: None)
        assert m.tsne is None and "cannot be opened" in m.tsne_note and str(gone) in m.tsne_note
        # A run trained before each corpus's store was recorded maps its first corpus only.
        (corpus_run / "stores.json").write_text(
            json.dumps({"train": stores["train"], "test": stores["test"]})
        )
        _, (m,) = report.write_report(corpus_run, out=tmp_path, split=chosen["split"], log=lambda _: None)
        assert m.tsne is None and "records no test store of south" in m.tsne_note
        _, (m,) = report.write_report(
            corpus_run, out=tmp_path, split="corpus north seed1", log=lambda _: None
        )
        assert m.tsne is not None and len(m.data["tsne"]["points"]) == 16
    finally:
        (corpus_run / "stores.json").write_text(json.dumps(stores))
