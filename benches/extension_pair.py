"""EmoDB featurisation with several builds of the Rust extension, loaded
side by side in one process and timed in turn.

    python -m benches.extension_pair before=/tmp/before.so after=glam_py/_mfcc_rs.abi3.so

Measures what a change to the Rust core costs: build the extension
before and after the change (``cargo build --release --features python
-p mfcc_rs``, copying ``target/release/libmfcc_rs.so`` away in between)
and name each copy. Every round featurises all of EmoDB
(``_mfcc_rs.featurize``, default features) with each build in turn, so a
shared machine's swings hit them alike; prints each build's median wall
and CPU seconds (the process's, all threads) and their ratios to the
first build's. CPU time swings less than wall time where other jobs
share the cores. Needs the recordings under ``../shared/corpora/emodb``
(or ``$GLAM_CORPORA/emodb``)."""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import statistics
import sys
import time
from pathlib import Path

from tests.support.inputs import corpora_root


def load_build(path: Path, name: str):
    """The extension module in ``path``, loaded under its own name so that
    several builds live in one process."""
    # The loader calls PyInit__mfcc_rs, found from the name's last part.
    loader = importlib.machinery.ExtensionFileLoader(f"{name}._mfcc_rs", str(path))
    spec = importlib.util.spec_from_file_location(f"{name}._mfcc_rs", path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "builds", nargs="+", metavar="NAME=PATH", help="a name and the .so of one build (two or more)"
    )
    p.add_argument("--rounds", type=int, default=15, help="timed rounds of each build (default: 15)")
    p.add_argument("--threads", type=int, default=2, help="featurisation threads (default: 2)")
    args = p.parse_args(argv)
    builds = dict(b.partition("=")[::2] for b in args.builds)
    if len(builds) < 2 or any(not name or not Path(path).is_file() for name, path in builds.items()):
        p.error("give two or more builds as NAME=PATH, each PATH an existing .so")
    if args.rounds < 1 or args.threads < 1:
        p.error("--rounds and --threads must be at least 1")
    paths = sorted((corpora_root() / "emodb").rglob("*.wav"))
    if not paths:
        p.error(f"no EmoDB recordings under {corpora_root() / 'emodb'}")

    def featurize(module):
        def run():
            batch = module.featurize(paths, module.FeatureConfig(), args.threads)
            assert not batch.errors, batch.errors[0].message

        return run

    runs = {name: featurize(load_build(Path(path), name)) for name, path in builds.items()}
    for run in runs.values():  # warm-up: page cache, thread pools
        run()
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    first = next(iter(runs))
    print(f"EmoDB, {len(paths)} files, {args.threads} threads, {args.rounds} interleaved rounds (medians):")
    for name in runs:
        ratios = [statistics.median(t[name]) / statistics.median(t[first]) for t in (wall, cpu)]
        print(
            f"  {name}: {statistics.median(wall[name]):.4f} s wall ({ratios[0]:.3f}x {first}), "
            f"{statistics.median(cpu[name]):.4f} s CPU ({ratios[1]:.3f}x {first})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
