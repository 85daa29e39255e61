"""The held-out check of ``--preset best`` (issue 15) on a corpus the
recipe search never saw: every model trained under ``--preset paper`` and
GLAM under ``--preset best``, on the same splits, then GLAM best's paired
differences from each model under the paper's recipe, and the two targets.

The targets: GLAM under best beats every model under the paper's recipe
(the authors' models, and AACNN), and does not lose to GLAM under the
paper's recipe, each judged on the mean WA and UA over the splits; the
paired standard errors and p say how sure that is.

    .venv/bin/python -m experiments.heldout --corpus iemocap --root /data/IEMOCAP --subset impro \\
        --protocol session --work runs/heldout-iemocap-impro
    .venv/bin/python -m experiments.heldout --corpus csv --root /data/ravdess --manifest ravdess.csv \\
        --repeats 10 --work runs/heldout-ravdess

The two trainings are ordinary run directories, ``WORK/paper`` and
``WORK/best`` (rerunning resumes them); ``--table`` prints the table of
what has finished and trains nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from experiments.paired import METRICS, compare, difference, per_split
from glam_py import cli
from glam_py.cli import UsageError
from glam_py.features import PAD_CHOICES
from glam_py.models import registry

REFERENCE = "glam"
PRESETS = ("paper", "best")


def commands(args: argparse.Namespace, corpus_flags: list[str]) -> dict[str, list[str]]:
    """Per preset, the train command: every model under paper, GLAM under
    best, the same corpus, protocol and splits."""
    shared = [*corpus_flags, "--protocol", args.protocol, "--pad", args.pad]
    if args.protocol == "random":
        shared += ["--repeats", str(args.repeats)]
    if args.threads:
        shared += ["--threads", str(args.threads)]
    models = {"paper": ",".join(args.models), "best": REFERENCE}
    return {
        preset: [
            sys.executable,
            "-m",
            "glam_py.train",
            *shared,
            "--preset",
            preset,
            "--models",
            models[preset],
            "--out",
            str(args.work / preset),
            "--no-report",
        ]
        for preset in PRESETS
    }


def table(paper: dict[str, dict], best: dict[str, dict]) -> str:
    """The markdown table and the verdicts.

    Parameters
    ----------
    paper : dict of str to dict
        Model -> {split name -> record with "WA", "UA"} under the paper's recipe.
    best : dict of str to dict
        GLAM's {split name -> record} under best.

    Returns
    -------
    str
        One row per model under paper (GLAM's first): its mean WA and UA over
        the splits finished in both runs, best's, and best's paired
        differences from it; then one line per target, judged on those means.
    """
    head = (
        ["model (paper)", "splits"]
        + [f"paper {m}" for m in METRICS]
        + [f"{REFERENCE} best {m}" for m in METRICS]
    )
    head += [f"{m}: {REFERENCE} best - model" for m in METRICS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    margins = {}
    for model in sorted(paper, key=lambda m: m != REFERENCE):
        try:
            result = compare(paper[model], best)
        except ValueError:
            lines.append(f"| {model} | {len(paper[model])}, {len(best)} |" + " |" * (len(head) - 2))
            continue
        margins[model] = {m: result[m]["diff"] for m in METRICS}
        row = [model, str(len(result["splits"]))]
        row += [f"{result[m]['mean_a']:.2f}" for m in METRICS] + [
            f"{result[m]['mean_b']:.2f}" for m in METRICS
        ]
        row += [difference(paper[model], best, m) for m in METRICS]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    others = {m: d for m, d in margins.items() if m != REFERENCE}
    if others:
        worst = min(others, key=lambda m: min(others[m].values()))
        met = all(d > 0 for m in others for d in others[m].values())
        lines.append(
            f"GLAM best beats every model under paper: {'yes' if met else 'no'} "
            f"(closest: {worst}, WA {others[worst]['WA']:+.2f}, UA {others[worst]['UA']:+.2f})"
        )
    if REFERENCE in margins:
        own = margins[REFERENCE]
        met = all(d >= 0 for d in own.values())
        lines.append(
            f"GLAM best not below GLAM paper: {'yes' if met else 'no'} (WA {own['WA']:+.2f}, UA {own['UA']:+.2f})"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_corpus_flags(parser)
    parser.add_argument(
        "--protocol",
        choices=["random", "speaker", "session"],
        default="random",
        help="random 80/20 splits, leave one speaker out, or leave one session out (default: random).",
    )
    parser.add_argument(
        "--repeats", type=cli.positive_int, default=10, help="random splits, seeds 1..N (default 10)."
    )
    parser.add_argument(
        "--pad",
        choices=PAD_CHOICES,
        default="tile",
        help="utterances shorter than a window, as train's --pad (default tile, as the recipe search).",
    )
    parser.add_argument(
        "--models",
        default=",".join(registry.names()),
        help="comma-separated models trained under paper (default: every registered model).",
    )
    parser.add_argument("--work", type=Path, required=True, help="folder of the two run directories.")
    cli.add_threads_flag(parser, "each training")
    parser.add_argument(
        "--table", action="store_true", help="print the table of what has finished; train nothing."
    )
    args = parser.parse_args(argv)
    if args.corpus == "demo":
        raise UsageError("--corpus: give the held-out corpus (demo is synthetic)")
    cli.check_corpus_flags(parser, args)
    args.models = args.models.split(",")
    unknown = [m for m in args.models if m not in registry.names()]
    if unknown or REFERENCE not in args.models:
        raise UsageError(
            f"--models: unknown {', '.join(unknown)}" if unknown else f"--models must include {REFERENCE}"
        )
    if not args.table:
        for preset, command in commands(args, cli.corpus_argv(parser, args)).items():
            print(f"{preset}: {' '.join(command[1:])}", flush=True)
            if subprocess.run(command).returncode != 0:
                return 1
    paper = (
        {m: per_split(args.work / "paper", m) for m in args.models} if (args.work / "paper").exists() else {}
    )
    best = per_split(args.work / "best", REFERENCE) if (args.work / "best").exists() else {}
    sys.stdout.write(table(paper, best))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
