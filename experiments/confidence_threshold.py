"""How a model's top probability tells right from wrong on a labelled
corpus: its accuracy, its expected calibration error (ECE, 10 bins), and,
at each threshold from 0.30 to 0.90, how many predictions are confident
(top probability at least the threshold: the rest predict marks
uncertain) and how accurate the confident and the uncertain ones are. The
default of ``predict --min-confidence``
(``glam_py.recognizer.MIN_CONFIDENCE``) is chosen from this table by the
rule printed under it (docs/predict.md, "Calibrated probabilities and
uncertain predictions").

    .venv/bin/python -m experiments.confidence_threshold --corpus csv --root ../shared/corpora/urdu
    .venv/bin/python -m experiments.confidence_threshold --checkpoint runs/emodb-all \\
        --corpus emodb --root ../shared/corpora/emodb

Without --checkpoint the bundled model is measured. The corpus flags are
those of train; utterances whose class the model does not have are left
out (counted), files that cannot be read too.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

import numpy as np

from glam_py import cli
from glam_py.errors import InputError
from glam_py.recognizer import EmotionRecognizer
from glam_py.train.metrics import expected_calibration_error

THRESHOLDS = tuple(round(0.30 + 0.05 * k, 2) for k in range(13))
# The rule: "uncertain" means no better than a guess. The default is the
# highest threshold below which the predictions are right at most
# CHANCE_MARGIN points more often than chance (100 / classes percent),
# over at least MIN_UNCERTAIN of them (fewer say too little).
CHANCE_MARGIN = 5.0
MIN_UNCERTAIN = 20


def sweep(confidence: np.ndarray, correct: np.ndarray) -> list[dict]:
    """Per threshold of :data:`THRESHOLDS`: the share of predictions at or
    above it (coverage, percent), their accuracy and that of the rest
    (percent; None where there are none)."""
    rows = []
    for t in THRESHOLDS:
        sure = confidence >= t
        rows.append(
            {
                "threshold": t,
                "confident": int(sure.sum()),
                "uncertain": int((~sure).sum()),
                "coverage": 100.0 * float(sure.mean()),
                "accuracy": 100.0 * float(correct[sure].mean()) if sure.any() else None,
                "uncertain_accuracy": 100.0 * float(correct[~sure].mean()) if (~sure).any() else None,
            }
        )
    return rows


def choose(rows: list[dict], chance: float, margin: float, min_uncertain: int) -> float | None:
    """The highest threshold of ``rows`` (:func:`sweep`) whose uncertain
    predictions, at least ``min_uncertain`` of them, are right at most
    ``chance + margin`` percent of the time; None when none is."""
    for row in reversed(rows):
        if row["uncertain"] >= min_uncertain and row["uncertain_accuracy"] <= chance + margin:
            return row["threshold"]
    return None


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def markdown(rows: list[dict], n: int) -> str:
    lines = [
        "| threshold | confident | coverage (%) | accuracy of the confident (%) | accuracy of the uncertain (%) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['threshold']:.2f} | {r['confident']} of {n} | {r['coverage']:.1f} | "
            f"{_percent(r['accuracy'])} | {_percent(r['uncertain_accuracy'])} |"
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(
        prog="python -m experiments.confidence_threshold",
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]).replace("``", ""),
    )
    cli.add_checkpoint_flags(p, default="the bundled model")
    cli.add_corpus_flags(p)
    p.add_argument(
        "--chance-margin",
        type=float,
        default=CHANCE_MARGIN,
        metavar="POINTS",
        help="the rule: how many points above chance the uncertain predictions may be right "
        f"(default: {CHANCE_MARGIN:g}).",
    )
    p.add_argument(
        "--min-uncertain",
        type=cli.positive_int,
        default=MIN_UNCERTAIN,
        metavar="N",
        help=f"the rule: the fewest uncertain predictions a threshold is judged on (default: {MIN_UNCERTAIN}).",
    )
    cli.add_threads_flag(p, "features and the model")
    cli.add_device_flag(p)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = cli.parse(parser, argv, lambda a: cli.check_corpus_flags(parser, a))
    options = dict(precision="fp32", min_confidence=0.0)
    if args.checkpoint is None:
        recognizer = EmotionRecognizer.pretrained(args.device, args.threads, **options)
    else:
        recognizer = EmotionRecognizer.from_checkpoint(
            args.checkpoint, args.device, args.threads, model=args.model, split=args.split, **options
        )
    corpus = cli.load_corpus(args)
    known = [u for u in corpus.utterances if u.label in recognizer.labels]
    if not known:
        raise InputError(
            f"none of the corpus's classes ({', '.join(corpus.classes)}) is among the model's "
            f"({', '.join(recognizer.labels)}); map them with --labels"
        )
    predicted = recognizer.predict([u.path for u in known])
    scored = [(u, p) for u, p in zip(known, predicted) if p.label is not None]
    confidence = np.array([max(p.probabilities.values()) for _, p in scored])
    correct = np.array([p.label == u.label for u, p in scored])
    accuracy = 100.0 * float(correct.mean())
    ece = expected_calibration_error(confidence, correct)
    ckpt = recognizer.checkpoint
    source = "the bundled model" if args.checkpoint is None else str(ckpt.path)
    print(
        f"model: {source} ({ckpt.model_name}, classes {', '.join(ckpt.labels)}), temperature {ckpt.temperature:.3g}"
    )
    print(
        f"corpus: {args.corpus} {cli.corpus_root(args)}: {len(scored)} utterances scored"
        f" ({len(corpus.utterances) - len(known)} of classes the model lacks and "
        f"{len(known) - len(scored)} unreadable left out)"
    )
    shares = Counter(p.label for _, p in scored)
    print("predicted: " + ", ".join(f"{label} {shares[label]}" for label in ckpt.labels))
    print(
        f"accuracy {accuracy:.1f}%, mean top probability {100 * confidence.mean():.1f}%, "
        f"ECE (10 bins) {ece:.1f}%"
    )
    print()
    rows = sweep(confidence, correct)
    print(markdown(rows, len(scored)))
    print()
    chance = 100.0 / len(ckpt.labels)
    chosen = choose(rows, chance, args.chance_margin, args.min_uncertain)
    rule = (
        f"the highest threshold below which the predictions (at least {args.min_uncertain}) are "
        f"right at most {chance + args.chance_margin:g}% of the time (chance {chance:g}% + "
        f"{args.chance_margin:g} points)"
    )
    print(f"rule: {rule}: " + ("none qualifies" if chosen is None else f"{chosen:.2f}"))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
