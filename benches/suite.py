"""Runs every pytest-benchmark benchmark in benches/ and writes the markdown
summary: per benchmark our figure, the anchor measured in the same run
(librosa, the authors' featurisation pipeline, the reference model
transcription) and the ratio, headed by the machine it ran on.

    .venv/bin/python -m benches.suite                  # all, into benches/SUMMARY.md
    .venv/bin/python -m benches.suite -k model_speed   # a subset
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from benches.summarize import summarize

BENCHES = Path(__file__).resolve().parent


def machine() -> str:
    """What the figures depend on besides our code."""
    import torch

    device = f"GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "no GPU"
    return (
        f"{platform.machine()}, {torch.get_num_threads()} torch threads available, {device}; "
        f"torch {torch.__version__}, Python {platform.python_version()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=BENCHES / "SUMMARY.md", help="markdown summary to write.")
    parser.add_argument("--json", type=Path, default=None, help="also keep pytest-benchmark's raw JSON here.")
    parser.add_argument(
        "-k", dest="select", default=None, help="pytest -k expression: run only the matching benchmarks."
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        raw = args.json or Path(tmp) / "benchmarks.json"
        command = [
            sys.executable,
            "-m",
            "pytest",
            str(BENCHES),
            "-q",
            "-p",
            "no:cacheprovider",
            f"--benchmark-json={raw}",
        ] + (["-k", args.select] if args.select else [])
        status = subprocess.run(command).returncode
        if not raw.exists():
            print(f"error: the benchmarks wrote no results (pytest exit status {status})", file=sys.stderr)
            return status or 1
        report = json.loads(raw.read_text())
    text = f"# Benchmark summary\n\n{machine()}\n\n{summarize(report)}"
    args.out.write_text(text)
    print(text)
    print(f"written to {args.out}" + ("" if status == 0 else f"; pytest exit status {status}"))
    return status


if __name__ == "__main__":
    sys.exit(main())
