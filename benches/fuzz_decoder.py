"""The long decoder fuzz run: `mfcc_rs/tests/decode_fuzz.rs` with random
seeds, round after round, for a given time.

    python -m benches.fuzz_decoder --minutes 30
    python -m benches.fuzz_decoder --minutes 30 --release --findings /tmp/fuzz

Under ``cargo test`` the suite draws 300 cases per property from a fixed
seed; here each round draws ``--cases`` per property from a fresh random
seed (``MFCC_FUZZ_CASES``), over WAV of every encoding, FLAC, AIFF, MP3
and Ogg Vorbis seeds and random bytes. The test profile keeps Rust's
overflow checks, so arithmetic overflow panics (in our code and in
symphonia's); ``--release`` fuzzes the build that ships instead.

A property failure stops the run: proptest has shrunk it and appended its
seed to ``mfcc_rs/tests/decode_fuzz.proptest-regressions``, where every
later ``cargo test`` replays it; fix it and commit that file. A round that
outlasts ``--round-timeout`` is a hang, also a failure. Inputs on which
symphonia panicked (caught: the file's error, "the decoder gave up") are
kept in ``--findings`` for upstream reports. Prints one line per round and
a summary: rounds, cases, time, failures, findings."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRATE = ROOT / "mfcc_rs"


def build(release: bool) -> Path:
    """Builds the fuzz suite and returns its test executable."""
    command = ["cargo", "test", "-p", "mfcc_rs", "--test", "decode_fuzz", "--no-run", "--message-format=json"]
    if release:
        command.append("--release")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"building the fuzz suite failed:\n{done.stderr[-3000:]}")
    for line in done.stdout.splitlines():
        message = json.loads(line)
        if message.get("executable") and message.get("target", {}).get("name") == "decode_fuzz":
            return Path(message["executable"])
    sys.exit("cargo built no decode_fuzz executable")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30.0, help="how long to fuzz (default: 30)")
    p.add_argument("--cases", type=int, default=20000, help="cases per property per round (default: 20000)")
    p.add_argument("--release", action="store_true", help="fuzz the release build (no overflow checks)")
    p.add_argument(
        "--findings",
        type=Path,
        default=Path("/tmp/mfcc_fuzz_findings"),
        help="where inputs symphonia panicked on go",
    )
    p.add_argument("--round-timeout", type=float, default=900.0, help="seconds after which a round is a hang")
    args = p.parse_args(argv)
    if args.minutes <= 0 or args.cases < 1:
        p.error("--minutes and --cases must be positive")

    executable = build(args.release)
    env = dict(os.environ, MFCC_FUZZ_CASES=str(args.cases), MFCC_FUZZ_FINDINGS=str(args.findings))
    start = time.monotonic()
    rounds, failed = 0, False
    while time.monotonic() - start < args.minutes * 60 and not failed:
        began = time.monotonic()
        try:
            # Run from the crate so that proptest finds the regressions file.
            done = subprocess.run(
                [str(executable)],
                cwd=CRATE,
                env=env,
                capture_output=True,
                text=True,
                timeout=args.round_timeout,
            )
        except subprocess.TimeoutExpired:
            print(f"round {rounds + 1}: no end after {args.round_timeout:.0f} s (a hang)")
            failed = True
            break
        rounds += 1
        passed = re.findall(r"^test (\w+) \.\.\. ok$", done.stdout, re.M)
        print(f"round {rounds}: {time.monotonic() - began:.0f} s, {len(passed)} tests passed", flush=True)
        if done.returncode != 0:
            failed = True
            print(done.stdout[-6000:], done.stderr[-3000:], sep="\n")
    minutes = (time.monotonic() - start) / 60
    kept = Counter(f.suffix for f in args.findings.glob("*")) if args.findings.is_dir() else Counter()
    print(
        f"{'FAILED' if failed else 'passed'}: {rounds} rounds in {minutes:.1f} min, "
        f"{args.cases} random cases per property per round ({rounds * args.cases} per property); "
        f"panics caught, inputs in {args.findings}: {dict(kept) or 'none'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
