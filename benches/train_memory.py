"""Training memory against the store's size (issue 16): EmoDB featurised
once as it is and once as N copies of itself (symbolic links, so the
corpus costs no disk), then one epoch of ``python -m glam_py.train
--store`` on each, its memory sampled every 50 ms from /proc:

- private (``RssAnon``): the process's own memory, torch and the model
  included; this must not grow with the store;
- file-backed (``RssFile``): the libraries' mapped pages (the store is
  read with positioned reads, so its pages stay in the kernel's page
  cache, not in the process).

    python -m benches.train_memory --copies 1 30

The run uses one worker (``--workers 1``) so that one process holds it all.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from benches.benchutil import sampled
from glam_py.corpora import load
from tests.support.inputs import corpora_root


def corpus_copies(root: Path, copies: int) -> Path:
    """``root/<label>/<copy>_<file>.wav`` links to EmoDB's four-class files,
    ``copies`` times each, for the ``folders`` reader."""
    corpus = load("emodb", corpora_root() / "emodb")
    for u in corpus.utterances:
        folder = root / u.label
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(copies):
            (folder / f"{k:03d}_{Path(u.path).name}").symlink_to(Path(u.path).resolve())
    return root


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--copies", type=int, nargs="+", default=[1, 30], help="corpus sizes (default 1 30).")
    p.add_argument("--model", default="apcnn", help="model (default apcnn: the fastest epoch).")
    p.add_argument("--threads", type=int, default=2, help="(default 2).")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for copies in args.copies:
            root = corpus_copies(Path(tmp) / f"corpus{copies}", copies)
            store = Path(tmp) / f"store{copies}"
            subprocess.run(
                [sys.executable, "-m", "glam_py.featurize", "--corpus", "folders", "--root", str(root)]
                + ["--labels", "neutral,happy,sad,angry", "--pad", "tile", "--out", str(store), "--quiet"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            store_mb = sum(f.stat().st_size for f in store.glob("shard_*.npy")) / 2**20
            peak = sampled(
                # The store's own windows train, as before training variants.
                [sys.executable, "-m", "glam_py.train", "--store", str(store), "--models", args.model]
                + ["--preset", "paper", "--train-overlap-s", "1.6"]
                + ["--repeats", "1", "--epochs", "1", "--workers", "1", "--threads", str(args.threads)]
                + ["--out", str(Path(tmp) / f"run{copies}"), "--quiet", "--no-report"],
                every_s=0.05,
            )
            rows.append((copies, store_mb, peak))
    print("| corpus | store | peak private (RssAnon) | peak file-backed (RssFile) | peak RSS | wall |")
    print("|---|---|---|---|---|---|")
    for copies, store_mb, peak in rows:
        print(
            f"| EmoDB x{copies} | {store_mb:.0f} MB | {peak['RssAnon']:.0f} MB | {peak['RssFile']:.0f} MB "
            f"| {peak['VmRSS']:.0f} MB | {peak['wall_s']:.0f} s |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
