"""``python -m glam_py.predict``: the emotion of every utterance in audio
files, folders or CSV manifests, from a trained checkpoint or, without
--checkpoint, the model shipped with glam (GLAM trained on EmoDB-4;
docs/model-card.md).

    python -m glam_py.predict recordings/ a.wav
    python -m glam_py.predict --checkpoint runs/latest recordings/ a.wav b.flac
    python -m glam_py.predict --checkpoint runs/latest manifest.csv --out predictions.csv
    python -m glam_py.predict segments.csv --out segments.json   # path,start,end: one row per segment
    python -m glam_py.predict --checkpoint model.pt talk.wav --windows --out talk.json

Prints a table, or writes CSV or JSON with --out. A prediction whose top
probability is below --min-confidence is marked uncertain ("?" after its
label in the table, uncertain=true in CSV and JSON); its label is given
all the same. Exits 0 when every input was handled, a file that could not
be read or a segment past the end of its file included (its row says
"error" and why; a summary goes to stderr); 1 for a checkpoint or manifest
that cannot be used or an output that cannot be written, 2 for bad
arguments, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterator, TextIO

from tqdm import tqdm

from glam_py import cli, pretrained
from glam_py.audio_inputs import AudioInput, expand, overlap_note
from glam_py.cli import add_device_flag, add_quiet_flag, add_threads_flag, plural, positive_int
from glam_py.errors import InputError, UsageError
from glam_py.features import PAD_CHOICES
from glam_py.precision import CHOICES
from glam_py.precision import HELP as precision_help
from glam_py.progress import counter
from glam_py.recognizer import MIN_CONFIDENCE, EmotionRecognizer, Prediction, WindowPrediction

FORMATS = ("table", "csv", "json")
#: What follows an uncertain prediction's label in the table.
UNCERTAIN_MARK = "?"


def build_parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(
        prog="python -m glam_py.predict",
        description=__doc__.split("\n\n")[0].replace("``", ""),
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="audio files (wav, flac, ogg, mp3, aiff), folders searched recursively for them, "
        "or CSV manifests with a 'path' column relative to the manifest (and optionally "
        "'label', reported as the reference, and 'start' and 'end' in seconds: each row a "
        "segment of its file, predicted on its own).",
    )
    cli.add_checkpoint_flags(
        p,
        default="the bundled model, GLAM trained on EmoDB-4, or the file GLAM_PRETRAINED names; "
        "one line on stderr says so",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the predictions to FILE instead of printing a table; the format "
        "follows the extension (.csv, .json) unless --format says otherwise.",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: table on the terminal, else from --out's extension).",
    )
    p.add_argument(
        "--windows",
        action="store_true",
        help="also give every window's prediction with its start and end in seconds.",
    )
    add_threads_flag(p, "decoding, features and the model")
    add_device_flag(p)
    p.add_argument("--precision", choices=CHOICES, default="auto", help=precision_help)
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=256,
        metavar="N",
        help="windows per model call; lower it to save memory on a GPU (default: 256).",
    )
    p.add_argument(
        "--pad",
        choices=PAD_CHOICES,
        default=None,
        help="utterances shorter than a window: drop them (no label, status too_short), "
        "tile, zero-pad or repeat them to one window (default: the checkpoint's padding, "
        "tile when it dropped them).",
    )
    p.add_argument(
        "--adapt",
        action="store_true",
        help="for a model trained with --normalize utterance, speaker or corpus: normalise every "
        "input by the statistics of all the inputs together (a first pass over them; one line on "
        "stderr says so) rather than each file by its own, as a test corpus is under --protocol "
        "corpus; the inputs should share one recording condition (default: each file by its own).",
    )
    p.add_argument(
        "--min-confidence",
        type=cli.probability,
        default=MIN_CONFIDENCE,
        metavar="P",
        help="mark a prediction whose top probability (at the checkpoint's temperature) is "
        f"below P, from 0 to 1, as uncertain: '{UNCERTAIN_MARK}' after its label in the table, "
        "uncertain=true in CSV and JSON; the label is given all the same, and 0 marks none "
        f"(default: {MIN_CONFIDENCE:g}, measured as docs/predict.md says).",
    )
    add_quiet_flag(p)
    return p


def output_format(args: argparse.Namespace) -> str:
    """The format --format names, else table, or the one --out's extension names.

    Raises
    ------
    UsageError
        --out's extension names no format and --format is not given.
    """
    if args.format:
        return args.format
    if args.out is None:
        return "table"
    suffix = args.out.suffix.lower().lstrip(".")
    if suffix in ("csv", "json"):
        return suffix
    raise UsageError(
        f"--out {args.out}: cannot tell the format from the extension; pass --format csv or json"
    )


def check(args: argparse.Namespace) -> None:
    """Every argument, before any work (see :func:`glam_py.cli.parse`)."""
    args.fmt = output_format(args)
    if args.checkpoint is None:
        given = [flag for flag, value in (("--model", args.model), ("--split", args.split)) if value]
        if given:
            raise UsageError(
                f"{given[0]} chooses within --checkpoint RUN; without --checkpoint the bundled model is used"
            )
    if args.out is not None:
        cli.check_output_file(args.out, "--out")


def predictions(
    recognizer: EmotionRecognizer,
    inputs: list[AudioInput],
    windows: bool,
    on_windows: Callable[[AudioInput, list[WindowPrediction]], None] | None = None,
) -> Iterator[tuple[AudioInput, Prediction]]:
    """The recognizer's predictions, in input order, with a row for every
    argument that named no file; a manifest row's error names the row.
    With ``on_windows``, each input's window predictions go there as they
    are computed (before its prediction, whose ``windows`` is then None), so
    a long recording's timeline is never held."""
    current: list[AudioInput] = []
    sink = None if on_windows is None else (lambda source, ws: on_windows(current[0], ws))
    readable = [i for i in inputs if i.error is None]
    stream = recognizer.iter_predict(
        [i.path for i in readable],
        windows=windows and sink is None,
        on_windows=sink,
        segments=[i.segment for i in readable],
    )
    for item in inputs:
        if item.error is not None:
            yield (
                item,
                Prediction(
                    str(item.path),
                    None,
                    {},
                    0,
                    0.0,
                    "error",
                    item.error,
                    [] if windows and sink is None else None,
                ),
            )
        else:
            current[:] = [item]
            prediction = next(stream)
            if prediction.status == "error" and item.row is not None:
                prediction.note = f"{item.row}: {prediction.note}"
            yield item, prediction


class TableWriter:
    """Aligned columns, one line per utterance as it is predicted (its
    window lines, indented, above it: they are written as they come)."""

    def __init__(
        self, write: Callable[[str], None], labels: tuple[str, ...], path_width: int, segments: bool = False
    ):
        self.write, self.labels, self.segments = write, labels, segments
        self.widths = [max(len(label), 5) for label in labels]
        self.path_width = min(path_width, 80)
        self.label_width = max(len("prediction"), *(len(label) + len(UNCERTAIN_MARK) for label in labels))
        probs = "  ".join(f"{label:>{w}}" for label, w in zip(labels, self.widths))
        span = f"  {'start':>9}  {'end':>9}" if segments else ""
        self.write(
            f"{'path':<{self.path_width}}{span}  {'prediction':<{self.label_width}}  {probs}  windows  status"
        )

    def _probs(self, probabilities: dict[str, float]) -> str:
        return "  ".join(
            f"{probabilities[label]:>{w}.3f}" if probabilities else f"{'-':>{w}}"
            for label, w in zip(self.labels, self.widths)
        )

    def _span(self, start: float | None, end: float | None) -> str:
        if not self.segments:
            return ""
        return "  " + "  ".join(f"{'-' if t is None else f'{t:.3f}':>9}" for t in (start, end))

    def windows(self, item: AudioInput, windows: list[WindowPrediction]) -> None:
        for w in windows:
            span = f"  {w.start_s:.2f}-{w.end_s:.2f} s"
            self.write(
                f"{span:<{self.path_width}}{self._span(*(item.segment or (None, None)))}  "
                f"{w.label:<{self.label_width}}  {self._probs(w.probabilities)}"
            )

    def row(self, item: AudioInput, p: Prediction) -> None:
        status = p.status if p.note is None else f"{p.status}: {p.note}"
        label = (p.label + UNCERTAIN_MARK * bool(p.uncertain)) if p.label else "-"
        self.write(
            f"{p.source:<{self.path_width}}{self._span(p.start, p.end)}  {label:<{self.label_width}}  "
            f"{self._probs(p.probabilities)}  {p.n_windows:>7}  {status}"
        )

    def close(self) -> None:
        pass


class CsvWriter:
    """One row per utterance; with windows, one more per window before it
    (its index, start and end filled in, the utterance's own row leaving
    them empty), written as they are computed. ``uncertain`` is true or
    false on an utterance's row with a label, empty elsewhere. With
    ``segments``, every row has its segment's ``start`` and ``end``
    (empty for a whole file)."""

    def __init__(
        self, f: TextIO, labels: tuple[str, ...], windows: bool, references: bool, segments: bool = False
    ):
        self.labels = labels
        columns = (
            ["path"]
            + (["reference"] if references else [])
            + (["start", "end"] if segments else [])
            + (["window", "start_s", "end_s"] if windows else [])
            + ["prediction", "uncertain"]
            + [f"p_{label}" for label in labels]
            + ["n_windows", "duration_s", "status", "note"]
        )
        self.writer = csv.DictWriter(f, columns, extrasaction="ignore")
        self.writer.writeheader()
        self.n_windows = 0  # of the utterance being written

    def windows(self, item: AudioInput, windows: list[WindowPrediction]) -> None:
        for k, w in enumerate(windows, start=self.n_windows):
            self.writer.writerow(
                {
                    "path": str(item.path),
                    "reference": item.reference or "",
                    **_span(*(item.segment or (None, None))),
                    "window": k,
                    "start_s": w.start_s,
                    "end_s": w.end_s,
                    "prediction": w.label,
                    **{f"p_{c}": round(v, 6) for c, v in w.probabilities.items()},
                }
            )
        self.n_windows += len(windows)

    def row(self, item: AudioInput, p: Prediction) -> None:
        base = {
            "path": p.source,
            "reference": item.reference or "",
            **_span(p.start, p.end),
            "prediction": p.label or "",
            "uncertain": "" if p.uncertain is None else str(p.uncertain).lower(),
            "n_windows": p.n_windows,
            "duration_s": round(p.duration_s, 4),
            "status": p.status,
            "note": p.note or "",
        }
        self.writer.writerow({**base, **{f"p_{k}": round(v, 6) for k, v in p.probabilities.items()}})
        self.n_windows = 0

    def close(self) -> None:
        pass


def _span(start: float | None, end: float | None) -> dict[str, float | str]:
    """A segment's CSV fields, empty for a whole file."""
    return {"start": "" if start is None else start, "end": "" if end is None else end}


class JsonWriter:
    """One JSON document: the checkpoint's description (with its
    temperature and the ``min_confidence`` that marks a prediction
    ``uncertain``), then a list with one object per utterance, written as
    they come so memory stays flat. With
    windows, an utterance's object opens with its "windows" list, written
    window by window as they are computed. With ``segments``, every object
    has its segment's "start" and "end" (null for a whole file)."""

    def __init__(self, f: TextIO, recognizer: EmotionRecognizer, windows: bool, segments: bool = False):
        ckpt = recognizer.checkpoint
        self.f, self.first, self.with_windows, self.segments = f, True, windows, segments
        self.open = False  # an utterance's "windows" list has been started
        head = {
            "checkpoint": str(ckpt.path),
            "model": ckpt.model_name,
            "labels": list(ckpt.labels),
            "average": ckpt.average,
            "temperature": ckpt.temperature,
            "min_confidence": recognizer.min_confidence,
            "features": recognizer.features.to_dict(),
        }
        if ckpt.provenance is not None:
            head["provenance"] = ckpt.provenance
        f.write(json.dumps(head)[:-1] + ', "predictions": [\n')

    def windows(self, item: AudioInput, windows: list[WindowPrediction]) -> None:
        for w in windows:
            self.f.write(
                (",\n" if self.open else ("" if self.first else ",\n") + '{"windows": [\n')
                + json.dumps(asdict(w))
            )
            self.open = True

    def row(self, item: AudioInput, p: Prediction) -> None:
        record = asdict(p)
        del record["windows"]
        if not self.segments:
            del record["start"], record["end"]
        record["reference"] = item.reference
        if self.with_windows and not self.open:
            self.f.write(("" if self.first else ",\n") + '{"windows": [')
            self.open = True
        if self.open:
            self.f.write("], " + json.dumps(record)[1:])
        else:
            self.f.write(("" if self.first else ",\n") + json.dumps(record))
        self.first, self.open = False, False

    def close(self) -> None:
        self.f.write("\n]}\n")


def summary(counts: Counter, total: int, uncertain: int = 0, min_confidence: float = 0.0) -> str:
    """The closing line: utterances by status, then how many predictions
    are uncertain (top probability below ``min_confidence``), if any."""
    parts = [
        plural(counts[s], "error") if s == "error" else f"{counts[s]} {s.replace('_', ' ')}"
        for s in ("ok", "padded", "too_short", "error")
        if counts[s]
    ]
    line = f"{plural(total, 'utterance')}: " + ", ".join(parts)
    if uncertain:
        line += (
            f"; {plural(uncertain, 'prediction')} uncertain (top probability below "
            f"{min_confidence:g}; labelled all the same)"
        )
    return line


def run(args: argparse.Namespace, fmt: str) -> int:
    inputs = expand(args.inputs)
    segments = any(i.segment is not None for i in inputs)
    options = dict(
        batch_size=args.batch_size, pad=args.pad, precision=args.precision, min_confidence=args.min_confidence
    )
    if args.checkpoint is None:
        recognizer = EmotionRecognizer.pretrained(args.device, args.threads, **options)
    else:
        recognizer = EmotionRecognizer.from_checkpoint(
            args.checkpoint, args.device, args.threads, model=args.model, split=args.split, **options
        )
    ckpt, cfg = recognizer.checkpoint, recognizer.features
    if args.adapt:
        try:
            recognizer.check_adaptable()
        except ValueError as e:
            raise InputError(f"--adapt: {e}") from None
    if not args.quiet:
        # Stderr: the table, CSV or JSON on stdout stays the predictions alone.
        print(
            pretrained.describe(ckpt)
            if args.checkpoint is None
            else f"checkpoint {ckpt.path}: {ckpt.model_name}, classes {', '.join(ckpt.labels)}; "
            f"{cfg.window_s:g} s windows, {cfg.overlap_s:g} s overlap, pad={cfg.pad}"
            + (f"; temperature {ckpt.temperature:.3g}" if ckpt.temperature != 1 else ""),
            file=sys.stderr,
        )
    if recognizer.precision_note:
        print(f"note: {recognizer.precision_note}", file=sys.stderr)
    overlapping = overlap_note(inputs)
    if overlapping and not args.quiet:
        print(f"note: {overlapping}", file=sys.stderr)
    if args.adapt:
        usable = [i for i in inputs if i.error is None]
        try:
            n = recognizer.adapt([i.path for i in usable], segments=[i.segment for i in usable])
        except ValueError as e:  # no input gave a window
            raise InputError(f"--adapt: {e}") from None
        print(
            f"adapting: every input normalised by the statistics of all {n} windows of the inputs together",
            file=sys.stderr,
        )
    out = sys.stdout if args.out is None else args.out.open("w", newline="", encoding="utf-8")
    try:
        if fmt == "table":
            to_out = (
                (lambda line: tqdm.write(line, file=out))
                if out is sys.stdout
                else (lambda line: out.write(line + "\n"))
            )
            writer = TableWriter(
                to_out, ckpt.labels, max((len(str(i.path)) for i in inputs), default=4), segments
            )
        elif fmt == "csv":
            writer = CsvWriter(out, ckpt.labels, args.windows, any(i.reference for i in inputs), segments)
        else:
            writer = JsonWriter(out, recognizer, args.windows, segments)
        counts: Counter = Counter()
        uncertain = 0
        bar = counter(len(inputs), "predicting", "file", args.quiet)
        for item, prediction in predictions(
            recognizer, inputs, args.windows, writer.windows if args.windows else None
        ):
            writer.row(item, prediction)
            counts[prediction.status] += 1
            uncertain += bool(prediction.uncertain)
            bar.update()
        bar.close()
        writer.close()
    finally:
        if out is not sys.stdout:
            out.close()
    if counts["error"] or not args.quiet:
        print(summary(counts, len(inputs), uncertain, recognizer.min_confidence), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = cli.parse(build_parser(), argv, check)
    return run(args, args.fmt)


if __name__ == "__main__":
    sys.exit(cli.run(main))
