"""Print wall time and peak RSS of every workflow step from Snakemake's `benchmark:` files.

    python benchmarks/workflow_resources.py [results/benchmarks]

Run it after `make run` to see where the default run spends its time and memory (issue: peak RSS of the
default run).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default="results/benchmarks", type=Path)
    args = parser.parse_args()
    files = sorted(args.directory.glob("*.tsv"))
    if not files:
        raise SystemExit(f"no benchmark files in {args.directory}: run the workflow first")
    rows = []
    for path in files:
        last = pd.read_csv(path, sep="\t").iloc[-1]  # the latest run of that step
        rows.append({"step": path.stem, "wall s": float(last["s"]), "peak RSS MB": float(last["max_rss"])})
    table = pd.DataFrame(rows).sort_values("wall s", ascending=False)
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    print(f"\nsum of step wall times: {table['wall s'].sum():,.1f} s; "
          f"peak RSS of any step: {table['peak RSS MB'].max():,.0f} MB ({table.loc[table['peak RSS MB'].idxmax(), 'step']})")


if __name__ == "__main__":
    main()
