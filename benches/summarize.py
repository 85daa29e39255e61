"""Turns a pytest-benchmark JSON file into the markdown table of the README:
per group, our figure, each anchor measured in the same run, and the ratio
(anchor time / our time, so > 1 means we are faster).

    python -m benches.summarize .benchmarks/latest.json > benches/RESULTS.md
"""

from __future__ import annotations

import argparse
import collections
import json
import platform
import sys


def per_second(units: float, seconds: float, unit: str) -> str:
    # Slow units (a whole split) keep three significant digits rather than showing 0.0.
    x = units / seconds
    return f"{x:,.1f} {unit}/s" if x >= 1 else f"{x:.3g} {unit}/s"


def rate(bench: dict) -> str:
    info = bench["extra_info"]
    return per_second(info["units"], bench["stats"]["median"], info["unit"])


def summarize(report: dict) -> str:
    groups: dict[str, list[dict]] = collections.defaultdict(list)
    for bench in report["benchmarks"]:
        if "role" in bench["extra_info"]:
            groups[bench["group"]].append(bench)
    machine = report.get("machine_info", {})
    lines = [
        f"Machine: {machine.get('cpu', {}).get('brand_raw', platform.processor())}, "
        f"{machine.get('cpu', {}).get('count', '?')} cores, Python {machine.get('python_version', '?')}; "
        f"{report.get('datetime', '')}",
        "",
        "| benchmark | ours | median s | anchor | median s | ratio (anchor / ours) |",
        "|---|---|---|---|---|---|",
    ]
    info = []
    for group, benches in groups.items():
        for b in benches:
            if b["extra_info"]["role"] == "paired":
                e = b["extra_info"]
                lines.append(
                    f"| {group} | {b['name']} (interleaved median, "
                    f"{per_second(e['units'], e['ours_s'], e['unit'])}) | {e['ours_s']:.4f} | same run, "
                    f"interleaved ({per_second(e['units'], e['anchor_s'], e['unit'])}) | {e['anchor_s']:.4f} "
                    f"| **{e['ratio']:.2f}x** |"
                )
        info += [(group, b) for b in benches if b["extra_info"]["role"] == "info"]
        ours = [b for b in benches if b["extra_info"]["role"] == "ours"]
        anchors = [b for b in benches if b["extra_info"]["role"] == "anchor"]
        for mine in ours:
            for anchor in anchors:
                ratio = anchor["stats"]["median"] / mine["stats"]["median"]
                lines.append(
                    f"| {group} | {mine['name']} ({rate(mine)}) | {mine['stats']['median']:.4f} "
                    f"| {anchor['name']} ({rate(anchor)}) | {anchor['stats']['median']:.4f} "
                    f"| **{ratio:.2f}x** |"
                )
    if info:
        lines += ["", "| benchmark | variant | median s | throughput |", "|---|---|---|---|"]
        lines += [f"| {group} | {b['name']} | {b['stats']['median']:.4f} | {rate(b)} |" for group, b in info]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", help="JSON written by pytest --benchmark-json")
    args = parser.parse_args(argv)
    with open(args.report, encoding="utf-8") as f:
        sys.stdout.write(summarize(json.load(f)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
