"""The command-line flags featurize and train (and predict and export)
share, and what they reach: the featurised store, the recorded run config,
the refusal of a store featurised with other settings."""

from __future__ import annotations

import json

import pytest

from glam_py import cli, export, featurize, predict
from glam_py.cli import feature_config_from
from glam_py.corpora.demo import generate_demo_corpus
from glam_py.features import FeatureConfig
from glam_py.store import FeatureStore
from glam_py.train import __main__ as train
from glam_py.train.data import load_utterances
from tests.support.commands import run_main


def _flags(parser) -> dict[str, tuple]:
    return {
        action.option_strings[0]: (action.dest, action.help, action.choices, action.default)
        for action in parser._actions
        if action.option_strings
    }


def test_feature_and_corpus_flags_are_the_same_in_featurize_and_train():
    ours, theirs = _flags(featurize.build_parser()), _flags(train.build_parser())
    # But for the augmentation of the test windows, which are never augmented.
    shared = [
        "--" + f["name"].replace("_", "-")
        for f in FeatureConfig.fields()
        if f["name"] not in train.TRAINING_VARIANT_FIELDS
    ]
    shared += ["--corpus", "--root", "--manifest", "--subset", "--labels", "--iemocap-happy"]
    for flag in shared:
        assert ours[flag] == theirs[flag], flag
    assert "--n-mfcc" in shared and "--output" in shared
    n_mfcc = next(f for f in FeatureConfig.fields() if f["name"] == "n_mfcc")
    assert ours["--n-mfcc"][1] == f"{n_mfcc['help']} (default: 26)."


def test_predict_and_export_choose_a_checkpoint_with_the_same_flags():
    ours, theirs = _flags(predict.build_parser()), _flags(export.build_parser())
    for flag in ("--model", "--split"):
        assert ours[flag] == theirs[flag], flag
    # Only the default differs: predict falls back on the bundled model.
    assert ours["--checkpoint"][1].startswith(theirs["--checkpoint"][1].removesuffix("."))
    assert "bundled model" in ours["--checkpoint"][1] and "bundled" not in theirs["--checkpoint"][1]


def test_the_given_corpus_flags_pass_on_to_another_command_as_they_were_given():
    parser = train.build_parser()
    given = ["--corpus", "csv", "--root", "/data/r", "--label-column", "emotion", "--labels", "a,b"]
    args = parser.parse_args([*given, "--epochs", "3"])
    argv = cli.corpus_argv(parser, args)
    assert sorted(zip(argv[::2], argv[1::2])) == sorted(zip(given[::2], given[1::2]))
    again = parser.parse_args(argv)
    assert all(getattr(again, dest) == getattr(args, dest) for dest in cli.CORPUS_FLAGS)
    assert cli.corpus_argv(parser, parser.parse_args([])) == []


def test_only_given_feature_flags_change_the_settings():
    args = featurize.build_parser().parse_args(["--fmax", "none", "--top-db", "60"])
    base = FeatureConfig(fmax=7600.0, pad="tile")
    assert feature_config_from(args, base) == base.replace(fmax=None, top_db=60.0)
    with pytest.raises(SystemExit):
        featurize.build_parser().parse_args(["--n-mfcc", "many"])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    generate_demo_corpus(root / "demo", n_speakers=2, per_class_per_speaker=2)
    return root


def test_feature_flags_and_label_order_reach_the_featurised_store(tiny, tmp_path):
    out = tmp_path / "store"
    assert (
        featurize.main(
            [
                "--root",
                str(tiny / "demo"),
                "--out",
                str(out),
                "--threads",
                "2",
                "--n-mfcc",
                "20",
                "--pad",
                "tile",
                "--labels",
                "angry,sad,happy,neutral",
            ]
        )
        == 0
    )
    store = FeatureStore(out)
    assert store.config == FeatureConfig(n_mfcc=20, pad="tile")
    assert store.windows(0).shape[1:] == (20, 63)
    assert store.labels == ["angry", "sad", "happy", "neutral"]  # the map's order
    assert load_utterances(store, store).class_names == store.labels

    log_mel = tmp_path / "log_mel"
    featurize.main(
        [
            "--root",
            str(tiny / "demo"),
            "--out",
            str(log_mel),
            "--threads",
            "2",
            "--output",
            "log_mel",
            "--pad",
            "tile",
        ]
    )
    assert FeatureStore(log_mel).windows(0).shape[1:] == (128, 63)


def _train(*flags: str) -> list[str]:
    return [
        "--preset",
        "paper",
        "--models",
        "apcnn",
        "--repeats",
        "1",
        "--epochs",
        "1",
        "--threads",
        "2",
        "--quiet",
        "--no-report",
        *flags,
    ]


@pytest.fixture(scope="module")
def tiled_store(tiny):
    store = tiny / "tiled"
    featurize.main(
        [
            "--root",
            str(tiny / "demo"),
            "--out",
            str(store),
            "--threads",
            "2",
            "--pad",
            "tile",
            "--n-mfcc",
            "20",
            # The paper recipe's training windows (1 s overlap), a variant.
            "--preset",
            "paper",
        ]
    )
    return store


def _features_file(folder):
    path = folder / "features.json"
    path.write_text(json.dumps({"features": {"n_mfcc": 26, "pad": "drop"}}))
    return path


def test_a_store_with_other_settings_is_refused_naming_them(tiny, tiled_store, tmp_path, capsys):
    code, err = run_main(
        train.main,
        _train(
            "--store", str(tiled_store), "--n-mfcc", "20", "--pad", "drop", "--out", str(tmp_path / "run")
        ),
        capsys,
    )
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1
    assert "pad: asked drop, stored tile" in err and "n_mfcc" not in err
    assert not (tmp_path / "run").exists()  # the failed run left no empty folder
    code, err = run_main(
        train.main,
        _train(
            "--store",
            str(tiled_store),
            "--config",
            str(_features_file(tmp_path)),
            "--out",
            str(tmp_path / "run"),
        ),
        capsys,
    )
    assert code == 1 and "n_mfcc: asked 26, stored 20; pad: asked drop, stored tile" in err
    code, err = run_main(
        train.main,
        _train("--store", str(tiled_store), "--train-overlap-s", "1.2", "--out", str(tmp_path / "run")),
        capsys,
    )
    # A training overlap the store holds no variant of: one line, with the command that adds it.
    assert code == 1 and err.count("\n") == 1 and not (tmp_path / "run").exists()
    assert (
        f"error: --store {tiled_store} lacks speed 1 at the training overlap 1.2 s, which --preset paper"
        in err
    )
    command = f"python -m glam_py.featurize --root {tiny / 'demo'} --n-mfcc 20 --pad tile --out {tiled_store}"
    assert f"add it with: {command} --preset paper --train-overlap-s 1.2;" in err


@pytest.mark.parametrize("flags", [[], ["--n-mfcc", "20", "--pad", "tile"]], ids=["no-flags", "same-flags"])
def test_config_json_records_the_store_settings_used(tiled_store, tmp_path, flags):
    out = tmp_path / "run"
    assert train.main(_train("--store", str(tiled_store), *flags, "--out", str(out))) == 0
    config = json.loads((out / "config.json").read_text())
    stored = FeatureStore(tiled_store).config.to_dict()
    # The paper preset trains at a 1 s overlap: the store's variant served.
    assert config["features"] == {"train": {**stored, "overlap_s": 1.0}, "test": stored}
    assert config["train"]["apcnn"]["features"] == stored
    assert config["train"]["apcnn"]["train_overlap_s"] == 1.0
    assert config["labels"] == ["neutral", "happy", "sad", "angry"]


def test_feature_flags_reach_the_training_and_test_stores(tiny, tmp_path):
    out = tmp_path / "run"
    assert (
        train.main(
            _train(
                "--corpus",
                "csv",
                "--root",
                str(tiny / "demo"),
                "--pad",
                "tile",
                "--output",
                "log_mel",
                "--train-overlap-s",
                "1.2",
                "--cache",
                str(tmp_path / "cache"),
                "--out",
                str(out),
            )
        )
        == 0
    )
    config = json.loads((out / "config.json").read_text())
    asked = FeatureConfig(pad="tile", output="log_mel")
    assert config["features"] == {"test": asked.to_dict(), "train": asked.replace(overlap_s=1.2).to_dict()}
    assert config["train"]["apcnn"]["features"] == asked.to_dict()
    assert config["train"]["apcnn"]["train_overlap_s"] == 1.2
