"""The README's measured table, regenerated from a report's ``summary.json`` so that it cannot drift from results.

    python -m needlework.report.readme_table results/report/default            # print the table
    python -m needlework.report.readme_table results/report/default --write README.md

``--write`` replaces what stands between the :data:`START` and :data:`END` markers of the file.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

START = "<!-- measured-table:start (python -m needlework.report.readme_table) -->"
END = "<!-- measured-table:end -->"


def table(summary: dict[str, float]) -> str:
    """Markdown: one row per model (and the majority baseline), accuracy [95% interval over needles] per context
    length, the overall accuracy and the effective context length; a line with the training run."""
    lengths = sorted({int(m.group(1)) for key in summary if (m := re.search(r"\.acc_len_(\d+)$", key))})
    models = [key[: -len(".accuracy")] for key in summary if key.endswith(".accuracy")]
    models = [m for m in models if m != "majority"] + ["majority"]
    head = ["model", *(f"{n:,} tokens" for n in lengths), "overall", "effective length"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model in models:
        cells = [_cell(summary, model, f"_len_{n}") for n in lengths] + [_cell(summary, model, "")]
        effective = summary.get(f"{model}.effective_length")
        cells.append("-" if effective is None else f"{int(effective):,}" if effective else "none")
        rows.append("| " + " | ".join([f"`{model}`" if model != "majority" else "majority baseline", *cells]) + " |")
    if "train.train_runtime_s" in summary:
        rows.append("")
        rows.append(f"Fine-tune: {summary['train.train_runtime_s'] / 60:.1f} min of training, "
                    f"{summary['train.tokens_per_s']:.0f} tokens/s, final loss {summary['train.final_loss']:.3f}.")
    return "\n".join(rows)


def _cell(summary: dict[str, float], model: str, suffix: str) -> str:
    key = "accuracy" if not suffix else f"acc{suffix}"
    if f"{model}.{key}" not in summary:
        return "-"
    low, high = summary.get(f"{model}.ci_low{suffix}"), summary.get(f"{model}.ci_high{suffix}")
    interval = f" [{low:.2f}, {high:.2f}]" if low is not None and high is not None else ""
    return f"{summary[f'{model}.{key}']:.2f}{interval}"


def replace_block(text: str, block: str) -> str:
    """``text`` with the block between the markers replaced; ValueError when the markers are missing."""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"no '{START}' ... '{END}' block to replace")
    return pattern.sub(lambda _: f"{START}\n{block}\n{END}", text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report_dir", type=Path, help="a report directory (results/report/<experiment>)")
    parser.add_argument("--write", type=Path, help="replace the marked block of this file (README.md)")
    args = parser.parse_args(argv)
    block = table(json.loads((args.report_dir / "summary.json").read_text(encoding="utf-8")))
    if args.write:
        args.write.write_text(replace_block(args.write.read_text(encoding="utf-8"), block), encoding="utf-8")
    print(block)


if __name__ == "__main__":
    main()
