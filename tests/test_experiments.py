"""The research scripts' statistics (experiments/)."""

from __future__ import annotations

import sys
from unittest import mock

import numpy as np
import pytest
from scipy import stats

from experiments.paired import compare, markdown
from glam_py import EmotionRecognizer, cli


def records(wa: list[float], ua: list[float]) -> dict[str, dict]:
    return {f"seed{k + 1}": {"WA": w, "UA": u} for k, (w, u) in enumerate(zip(wa, ua))}


def test_paired_comparison_counts_only_common_splits_and_pairs_them():
    a = records([70.0, 80.0, 75.0, 60.0], [68.0, 79.0, 70.0, 61.0])
    b = records([72.0, 81.0, 79.0], [69.0, 83.0, 70.5])  # seed4 not finished in b
    result = compare(a, b)
    assert result["splits"] == ["seed1", "seed2", "seed3"]
    d = np.array([2.0, 1.0, 4.0])
    assert result["WA"]["diff"] == pytest.approx(d.mean())
    assert result["WA"]["se"] == pytest.approx(d.std(ddof=1) / np.sqrt(3))
    # Paired, not independent: the split-to-split spread cancels out.
    t = d.mean() / (d.std(ddof=1) / np.sqrt(3))
    assert result["WA"]["t"] == pytest.approx(t)
    assert result["WA"]["p"] == pytest.approx(2 * stats.t.sf(abs(t), 2))
    assert result["WA"]["p"] < stats.ttest_ind([72.0, 81.0, 79.0], [70.0, 80.0, 75.0]).pvalue
    table = markdown(result, "fp32", "bf16")
    assert "| seed3 | 75.0 | 79.0 | 70.0 | 70.5 |" in table
    assert "| paired difference (bf16 - fp32) ± SE | +2.33 ± 0.88 |" in table


def test_paired_comparison_needs_two_common_splits():
    with pytest.raises(ValueError, match="1 split"):
        compare(records([70.0], [70.0]), records([71.0, 72.0], [70.0, 70.0]))


def test_recipe_search_candidates_remove_one_ingredient_each_and_keep_what_validation_needs():
    from experiments.recipe_search import INGREDIENTS, TRIALS, best_validated, kept, search_candidates, table

    recipes = search_candidates()
    assert set(recipes) == {
        "paper",
        "full",
        *(f"full-{n}" for n in INGREDIENTS),
        *(f"full+{n}" for n in TRIALS),
    }
    assert all(r["val_fraction"] == 0.2 for r in recipes.values())
    for name, (settings, _) in INGREDIENTS.items():
        assert settings.items() <= recipes["full"].items()
        assert not any(recipes[f"full-{name}"].get(k) == v for k, v in settings.items())
    for name, (settings, _) in TRIALS.items():
        assert settings.items() <= recipes[f"full+{name}"].items()
        assert not any(recipes["full"].get(k) == v for k, v in settings.items())
    # Validation UA per split: removing "dense" costs 1-3 points, removing
    # "ema" gains 1-3; adding "level" gains; the others change nothing.
    full = {f"seed{k}": {"WA": 80.0, "UA": 78.0 + k, "cost": 300} for k in range(1, 4)}
    results = {"paper": {s: {**v, "cost": 200} for s, v in full.items()}, "full": full}
    for name in [f"full-{n}" for n in INGREDIENTS] + [f"full+{n}" for n in TRIALS]:
        sign = {"full-dense": -1, "full-ema": 1, "full+level": 1}.get(name, 0)
        results[name] = {s: {**v, "UA": v["UA"] + sign * k} for k, (s, v) in enumerate(full.items(), start=1)}
    assert kept(results) == ["dense", "level"]
    # full-ema and full+level share the highest UA; the first wins. A
    # candidate on fewer splits does not count.
    results["chosen"] = {"seed1": {"WA": 99.0, "UA": 99.0, "cost": 1}}
    assert best_validated(results) == "full-ema"
    shown = table(results, "full", "validation")
    # UA 79, 80, 81 less 1, 2, 3: mean 78, SE 0; the difference -2 ± 0.58.
    assert (
        "| full-dense | 3 | 80.00 ± 0.00 | 78.00 ± 0.00 | +0.00 ± 0.00 (nan) | -2.00 ± 0.58 (0.07) | 1.50x |"
        in shown
    )


def test_the_ablation_removes_each_chosen_ingredient_and_adds_each_other():
    from experiments.recipe_search import BASE, EVERY, ablation_candidates

    recipes = ablation_candidates(["dense", "masks"])
    assert recipes["paper"] == {}
    assert recipes["best"] == {**BASE, **EVERY["dense"][0], **EVERY["masks"][0]}
    assert recipes["best-dense"] == {**BASE, **EVERY["masks"][0]}
    assert set(recipes) == {"paper", "best", "best-dense", "best-masks"} | {
        f"best+{n}" for n in EVERY if n not in ("dense", "masks")
    }
    assert all("val_fraction" not in r for r in recipes.values())


def test_the_refining_round_is_the_ablation_and_the_learning_rate_steps_on_validation():
    from experiments.recipe_search import LR_STEPS, ablation_candidates, refine_candidates

    chosen = ["dense", "lr"]
    recipes, ablation = refine_candidates(chosen), ablation_candidates(chosen)
    assert set(recipes) == set(ablation) | {f"best@{n}" for n in LR_STEPS}
    assert all(recipes[n] == {**ablation[n], "val_fraction": 0.2} for n in ablation)
    assert recipes["best@lr2e-3"] == {**recipes["best"], "lr": 2e-3}
    assert recipes["best@lr5e-4"]["lr"] == 5e-4 and recipes["best"]["lr"] == 1e-3


def test_recipe_search_trains_each_candidate_with_a_validation_split(tmp_path):
    import argparse

    from experiments.recipe_search import command

    args = argparse.Namespace(root=tmp_path / "emodb", work=tmp_path / "w", repeats=5, threads=2)
    cmd = command("full-ema", tmp_path / "w" / "recipes" / "full-ema.json", "search", args)
    pairs = dict(zip(cmd[3::2], cmd[4::2]))
    assert cmd[1:3] == ["-m", "glam_py.train"] and cmd[-2:] == ["--no-report", "--quiet"]
    assert pairs["--select"] == "val" and pairs["--repeats"] == "5" and pairs["--threads"] == "2"
    assert pairs["--out"] == str(tmp_path / "w" / "full-ema")
    assert pairs["--config"].endswith("full-ema.json") and pairs["--preset"] == "paper"
    refine = command("best-ema", tmp_path / "r.json", "refine", args)
    assert dict(zip(refine[3::2], refine[4::2]))["--select"] == "val"
    assert (
        dict(zip(*[iter(command("best", tmp_path / "b.json", "ablation", args)[3:])] * 2))["--select"]
        == "last"
    )


def test_ingredients_that_change_the_length_of_training_combine():
    from experiments.recipe_search import BASE, recipe, search_candidates

    assert recipe(["longer"])["epochs"] == 50 and recipe(["speed"])["epochs"] == BASE["epochs"] // 3
    # Three speeds over 5/3 of a third of the epochs.
    assert recipe(["speed", "longer"])["epochs"] == recipe(["longer", "speed"])["epochs"] == 17
    chosen = search_candidates(["dense", "lr"])["chosen"]
    assert chosen == {**BASE, "train_overlap_s": 1.6, "lr": 1e-3, "val_fraction": 0.2}
    assert "chosen" not in search_candidates()


def test_recipe_models_table_pairs_each_model_across_recipes_and_against_the_reference():
    from experiments.recipe_models import table

    paper = {
        "glam": records([70.0, 80.0, 75.0], [68.0, 79.0, 70.0]),
        "mhcnn": records([50.0, 60.0], [45.0, 55.0]),
    }
    best = {
        "mhcnn": records([80.0, 86.0, 90.0], [78.0, 80.0, 88.0]),
        "glam": records([76.0, 83.0, 77.0], [70.0, 80.0, 75.0]),
    }
    lines = table((paper, best), ("paper", "best"), "glam").splitlines()
    assert lines[0].startswith(
        "| model | splits | paper WA | paper UA | best WA | best UA | WA: best - paper |"
    )
    glam, mhcnn = lines[2].split(" | "), lines[3].split(" | ")
    assert glam[0] == "| glam" and mhcnn[0] == "| mhcnn"  # the reference first
    # glam, best - paper: WA differences 6, 3, 2 (paired over the 3 splits of both).
    d = np.array([6.0, 3.0, 2.0])
    se = d.std(ddof=1) / np.sqrt(3)
    assert glam[6] == f"+{d.mean():.2f} ± {se:.2f} ({stats.ttest_1samp(d, 0).pvalue:.2f})"
    assert glam[8:] == ["", " |"]
    # mhcnn: paired only over the two splits paper finished; glam - mhcnn under best over all three.
    assert mhcnn[1] == "2, 3" and mhcnn[6].startswith("+28.00 ± 2.00")
    assert mhcnn[8].startswith(f"{np.mean([-4.0, -3.0, -13.0]):+.2f}")


def test_recipe_search_refuses_a_missing_or_unknown_recipe_in_one_line(tmp_path, capsys):
    from experiments.recipe_search import main

    for stage, recipe, message in [
        ("refine", [], "--stage refine needs --recipe"),
        ("ablation", ["--recipe", "dense,foo"], "--recipe: unknown ingredients foo;"),
    ]:
        with pytest.raises(SystemExit):
            main(["--stage", stage, *recipe, "--root", str(tmp_path), "--work", str(tmp_path / "w")])
        assert message in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_the_heldout_check_trains_every_model_under_paper_and_glam_under_best_on_the_same_splits(tmp_path):
    import argparse

    from experiments.heldout import commands

    args = argparse.Namespace(
        protocol="random", repeats=10, pad="tile", threads=2, models=["glam", "apcnn"], work=tmp_path
    )
    corpus = ["--corpus", "csv", "--root", "/data/r", "--manifest", "m.csv"]
    cmds = commands(args, corpus)
    assert set(cmds) == {"paper", "best"}
    for preset, cmd in cmds.items():
        pairs = dict(zip(cmd[3::2], cmd[4::2]))
        assert cmd[1:3] == ["-m", "glam_py.train"] and cmd[3:9] == corpus
        assert pairs["--preset"] == preset and pairs["--out"] == str(tmp_path / preset)
        assert pairs["--protocol"] == "random" and pairs["--repeats"] == "10" and pairs["--pad"] == "tile"
    assert dict(zip(cmds["paper"][3::2], cmds["paper"][4::2]))["--models"] == "glam,apcnn"
    assert dict(zip(cmds["best"][3::2], cmds["best"][4::2]))["--models"] == "glam"
    args.protocol = "session"
    assert "--repeats" not in commands(args, corpus)["paper"]


def test_the_heldout_table_pairs_glam_best_with_each_model_under_paper_and_judges_the_targets():
    from experiments.heldout import table

    best = records([80.0, 84.0, 82.0], [78.0, 80.0, 79.0])
    paper = {
        "apcnn": records([79.0, 85.0, 80.0, 99.0], [70.0, 71.0, 72.0, 99.0]),  # seed4: only in paper
        "glam": records([75.0, 80.0, 79.0], [74.0, 77.0, 75.0]),
    }
    lines = table(paper, best).splitlines()
    glam, apcnn = lines[2].split(" | "), lines[3].split(" | ")
    assert glam[:2] == ["| glam", "3"] and apcnn[:2] == ["| apcnn", "3"]
    # apcnn: WA differences 1, -1, 2 over the three common splits.
    d = np.array([1.0, -1.0, 2.0])
    assert apcnn[2] == "81.33" and apcnn[4] == "82.00"
    assert (
        apcnn[6]
        == f"+{d.mean():.2f} ± {d.std(ddof=1) / np.sqrt(3):.2f} ({stats.ttest_1samp(d, 0).pvalue:.2f})"
    )
    assert "GLAM best beats every model under paper: yes (closest: apcnn, WA +0.67, UA +8.00)" in lines
    assert "GLAM best not below GLAM paper: yes (WA +4.00, UA +3.67)" in lines
    paper["aacnn"] = records([81.0, 85.0, 82.0], [70.0, 71.0, 69.0])
    assert (
        "GLAM best beats every model under paper: no (closest: aacnn, WA -0.67, UA +9.00)"
        in table(paper, best).splitlines()
    )


def test_the_heldout_check_refuses_bad_flags_before_training(tmp_path, capsys):
    from experiments import heldout

    for argv, message in [
        (["--work", str(tmp_path)], "--corpus: give the held-out corpus"),
        (["--corpus", "emodb", "--root", str(tmp_path / "no"), "--work", str(tmp_path)], "no such folder"),
        (
            ["--corpus", "emodb", "--root", str(tmp_path), "--models", "glam,foo", "--work", str(tmp_path)],
            "unknown foo",
        ),
        (
            ["--corpus", "emodb", "--root", str(tmp_path), "--models", "apcnn", "--work", str(tmp_path)],
            "include glam",
        ),
    ]:
        with mock.patch.object(sys, "argv", ["heldout", *argv]):
            assert cli.run(heldout.main) != 0
        assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_confidence_threshold_sweeps_coverage_and_chooses_the_highest_guess_level():
    from experiments.confidence_threshold import THRESHOLDS, choose, sweep

    assert THRESHOLDS[0] == 0.30 and THRESHOLDS[-1] == 0.90 and len(THRESHOLDS) == 13
    # 40 utterances at 0.32 (a quarter right), 40 at 0.62 (half right), 20 at 0.95 (all right).
    confidence = np.repeat([0.32, 0.62, 0.95], [40, 40, 20])
    correct = np.concatenate([np.arange(40) < 10, np.arange(40) < 20, np.ones(20, bool)])
    rows = {r["threshold"]: r for r in sweep(confidence, correct)}
    assert rows[0.3]["confident"] == 100 and rows[0.3]["uncertain_accuracy"] is None
    assert rows[0.5] == {
        "threshold": 0.5,
        "confident": 60,
        "uncertain": 40,
        "coverage": 60.0,
        "accuracy": pytest.approx(100 * 40 / 60),
        "uncertain_accuracy": 25.0,
    }
    assert rows[0.9]["uncertain_accuracy"] == pytest.approx(100 * 30 / 80)
    # Below 0.65 the uncertain ones are right 25% of the time (chance, 4
    # classes); from 0.65 on, 37.5%: 0.60 is the highest at chance + 5.
    assert choose(list(rows.values()), 25.0, 5.0, 20) == 0.6
    assert choose(list(rows.values()), 25.0, 15.0, 20) == 0.9
    assert choose(list(rows.values()), 25.0, 5.0, 41) is None


def test_confidence_threshold_command_measures_a_checkpoint_on_a_labelled_corpus(trained_run, capsys):
    from experiments.confidence_threshold import main

    argv = ["--checkpoint", str(trained_run / "models" / "apcnn__seed1.pt"), "--threads", "2"]
    assert main([*argv, "--corpus", "demo", "--root", str(trained_run.parent / "demo")]) == 0
    out = capsys.readouterr().out
    n = len(list((trained_run.parent / "demo" / "wav").glob("*.wav")))
    assert f"{n} utterances scored" in out and "ECE (10 bins)" in out and "temperature 1" in out
    assert sum(line.startswith("| 0.") for line in out.splitlines()) == 13
    tops = [
        max(p.probabilities.values())
        for p in EmotionRecognizer.from_checkpoint(
            trained_run / "models" / "apcnn__seed1.pt", "cpu", precision="fp32"
        ).predict(sorted((trained_run.parent / "demo" / "wav").glob("*.wav")))
    ]
    assert f"| 0.50 | {sum(t >= 0.5 for t in tops)} of {n} |" in out
    assert "rule: the highest threshold below which the predictions (at least 20)" in out
