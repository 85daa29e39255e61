"""A store's training variants (glam_py.store.variants): featurize writes
the windows a recipe trains on into the store, adds only the missing ones
when asked for more, and ``train --store`` trains on them exactly as from
the corpus, refusing a store that lacks one in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from glam_py import features, featurize
from glam_py.corpora import parse_label_map
from glam_py.corpora.demo import generate_demo_corpus
from glam_py.store import FeatureStore, layout, variants, writer
from glam_py.train import __main__ as train
from glam_py.train.config import BEST, RunConfig
from glam_py.train.run import CorpusSource, corpus_stores
from tests.support.commands import run_main
from tests.support.inputs import corpora_root
from tests.support.training import split_metrics


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("variants")
    generate_demo_corpus(root / "demo", n_speakers=2, per_class_per_speaker=2)
    return root


def _featurize(demo: Path, *flags: str) -> int:
    base = ["--corpus", "csv", "--root", str(demo / "demo"), "--pad", "tile", "--threads", "2", "--quiet"]
    return featurize.main([*base, "--out", str(demo / "store"), *flags])


def _stamps(root: Path) -> dict[str, int]:
    # The writer's lock is taken by every run; the store's files are the rest.
    files = (p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".lock"))
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in files}


def test_featurize_adds_the_recipes_variants_leaving_what_is_there(demo, monkeypatch, capsys):
    store = demo / "store"
    assert _featurize(demo) == 0
    assert not (store / variants.VARIANTS).exists()  # no recipe flag: the test windows only
    test_windows = _stamps(store)
    written: list = []
    featurise_shard = writer._featurize_shard

    def counted(utterances, config, *args):
        written.append(config)
        return featurise_shard(utterances, config, *args)

    monkeypatch.setattr(writer, "_featurize_shard", counted)
    assert _featurize(demo, "--preset", "best") == 0
    test = FeatureStore(store).config
    train_windows = test.replace(overlap_s=BEST.train_overlap_s)
    # best trains at speeds 0.9, 1.0 and 1.1 at its 1.6 s overlap, which is
    # the test windows' too: speed 1 is the store's own windows; then one
    # augmented copy.
    augmented = train_windows.replace(augment=",".join(BEST.augment), augment_copy=1)
    assert written == [train_windows.replace(speed=0.9), train_windows.replace(speed=1.1), augmented]
    assert {k: v for k, v in _stamps(store).items() if k in test_windows} == test_windows
    slow = FeatureStore(variants.variant_root(store, written[0]), expected=written[0])
    row = slow.index[0]
    np.testing.assert_array_equal(
        slow.windows(0), features.featurize(row["path"], written[0], threads=1).windows
    )
    before = _stamps(store)
    written.clear()
    assert _featurize(demo, "--preset", "best", "--augment", "noise", "--augment-copies", "2") == 0
    copies = [train_windows.replace(augment="noise", augment_copy=k) for k in (1, 2)]
    assert written == copies  # only the missing ones
    assert {k: v for k, v in _stamps(store).items() if k in before} == before
    written.clear()
    assert _featurize(demo, "--preset", "best", "--augment", "noise", "--augment-copies", "2") == 0
    assert written == []
    # train finds them all; one more copy is refused in one line naming it
    # and the command that adds it.
    parser = train.build_parser()
    train.check(
        parser, parser.parse_args(["--store", str(store), "--augment", "noise", "--augment-copies", "2"])
    )
    code, err = run_main(
        train.main,
        ["--store", str(store), "--augment", "noise", "--augment-copies", "3", "--out", str(demo / "run")],
        capsys,
    )
    assert code == 1 and err.count("\n") == 1 and not (demo / "run").exists()
    command = (
        f"python -m glam_py.featurize --corpus csv --root {(demo / 'demo').resolve()} --pad tile "
        f"--out {store} --preset best --augment noise --augment-copies 3"
    )
    assert err == (
        f"error: --store {store} lacks augmented copy 3 (noise) at the training overlap 1.6 s, which "
        f"--preset best trains on; add it with: {command}\n"
    )
    # --verify checks the variants too.
    assert featurize.main(["--verify", str(store)]) == 0
    shard = layout.shard_array(variants.variant_root(store, copies[1]), 0)
    shard.write_bytes(shard.read_bytes()[:-4])
    assert featurize.main(["--verify", str(store)]) == 1
    assert str(shard) in capsys.readouterr().out


@pytest.mark.parametrize(
    "flags, code, says",
    [
        (["--speeds", "0.9"], 2, "--speeds applies only with --out DIR"),
        (["--preset", "best", "--merge", "a", "--out", "{tmp}/m"], 2, "--preset does not apply with --merge"),
        (["--verify", "{tmp}", "--augment", "noise"], 2, "--augment does not apply with --verify"),
        (["--out", "{tmp}/s", "--speeds", "0.9,3"], 2, "--speeds must each be a valid --speed"),
        (["--out", "{tmp}/s", "--augment", "hiss"], 2, 'unknown effect "hiss"'),
    ],
)
def test_featurize_refuses_bad_variant_flags_in_one_line(tmp_path, capsys, flags, code, says):
    got, err = run_main(featurize.main, [f.format(tmp=tmp_path) for f in flags], capsys)
    assert got == code and err.count("\n") == 1 and says in err, err
    assert not (tmp_path / "s").exists()


def test_variants_of_a_store_with_other_test_settings_are_refused(demo, capsys, tmp_path):
    out = tmp_path / "tiled"
    featurize.main(
        ["--corpus", "csv", "--root", str(demo / "demo"), "--pad", "tile", "--out", str(out), "--quiet"]
    )
    argv = ["--corpus", "csv", "--root", str(demo / "demo"), "--out", str(out), "--preset", "best"]
    code, err = run_main(featurize.main, argv, capsys)
    assert code == 1 and err.count("\n") == 1 and "pad: asked drop, stored tile" in err
    assert not (out / variants.VARIANTS).exists()


def test_a_store_trains_best_exactly_as_the_corpus_does(tmp_path):
    """EmoDB's neutral and sad utterances (fast), one split of one epoch of
    APCNN under --preset best: the same windows, the same results as from
    the corpus."""
    emodb = corpora_root() / "emodb"
    if not (emodb / "wav").is_dir():
        pytest.skip(f"EmoDB recordings not found under {emodb} (set GLAM_CORPORA)")
    corpus = ["--corpus", "emodb", "--root", str(emodb), "--labels", "neutral,sad"]
    store = tmp_path / "store"
    assert (
        featurize.main([*corpus, "--out", str(store), "--threads", "2", "--quiet", "--preset", "best"]) == 0
    )
    common = ["--models", "apcnn", "--repeats", "1", "--epochs", "1", "--warmup-epochs", "0"]
    common += ["--workers", "1", "--threads", "2", "--quiet", "--no-report"]
    assert (
        train.main([*corpus, "--cache", str(tmp_path / "cache"), *common, "--out", str(tmp_path / "a")]) == 0
    )
    assert train.main(["--store", str(store), *common, "--out", str(tmp_path / "b")]) == 0
    a, b = (json.loads((tmp_path / run / "results.json").read_text()) for run in ("a", "b"))
    assert a["config"]["train"] == b["config"]["train"]
    assert a["config"]["features"] == b["config"]["features"]
    assert a["config"]["train"]["apcnn"]["speeds"] == [0.9, 1.0, 1.1]
    assert split_metrics(a) == split_metrics(b)
    assert a["models"]["apcnn"]["summary"] == b["models"]["apcnn"]["summary"]
    # The windows behind them: training, test, then each speed's and the augmented copy's.
    run = RunConfig(models=("apcnn",), preset="best")
    cfg = run.train_config("apcnn")
    quiet = lambda _: None  # noqa: E731
    source = CorpusSource("emodb", emodb, labels=parse_label_map("neutral,sad"))
    from_corpus = corpus_stores([source], cfg, tmp_path / "cache", 2, quiet)[0][1]
    from_store = corpus_stores([CorpusSource("store", store=store)], cfg, tmp_path / "none", 2, quiet)[0][1]
    assert len(from_corpus) == len(from_store) == 6
    for ours, theirs in zip(from_corpus, from_store):
        assert ours.config == theirs.config and len(ours) == len(theirs)
        for i in range(len(ours)):
            np.testing.assert_array_equal(ours.windows(i), theirs.windows(i))


def test_parts_in_separate_folders_merge_with_their_variants(demo, tmp_path):
    parts = [tmp_path / f"part{k}" for k in range(2)]
    base = ["--corpus", "csv", "--root", str(demo / "demo"), "--files-per-shard", "5", "--quiet"]
    for k, part in enumerate(parts):
        assert featurize.main([*base, "--out", str(part), "--shard", f"{k}/2", "--speeds", "0.9"]) == 0
    out = tmp_path / "merged"
    assert featurize.main(["--merge", *map(str, parts), "--out", str(out)]) == 0
    test = FeatureStore(out).config
    slow = test.replace(speed=0.9)
    assert variants.missing(out, test, [test, slow]) == []
    assert FeatureStore(variants.variant_root(out, slow), expected=slow).n_windows > 0
    assert featurize.main(["--verify", str(out)]) == 0
