"""The README's measured table comes from a report's summary.json (needlework.report.readme_table)."""
import json
import re
from pathlib import Path

import pytest

from needlework.report.readme_table import END, START, main, replace_block, table

ROOT = Path(__file__).resolve().parents[1]
SUMMARY = {
    "base.accuracy": 0.1, "base.ci_low": 0.05, "base.ci_high": 0.2, "base.acc_len_512": 0.1,
    "base.ci_low_len_512": 0.04, "base.ci_high_len_512": 0.25, "base.effective_length": 0,
    "finetuned.accuracy": 0.9, "finetuned.ci_low": 0.85, "finetuned.ci_high": 0.94, "finetuned.acc_len_512": 0.9,
    "finetuned.ci_low_len_512": 0.8, "finetuned.ci_high_len_512": 0.95, "finetuned.effective_length": 512,
    "majority.accuracy": 0.46, "majority.ci_low": 0.4, "majority.ci_high": 0.52, "majority.acc_len_512": 0.46,
    "majority.ci_low_len_512": 0.4, "majority.ci_high_len_512": 0.52,
    "train.train_runtime_s": 150.0, "train.tokens_per_s": 190.0, "train.final_loss": 0.25,
}


def test_table_has_every_model_with_its_interval_and_the_baseline_last():
    rows = table(SUMMARY).splitlines()
    assert rows[0] == "| model | 512 tokens | overall | effective length |"
    assert rows[2] == "| `base` | 0.10 [0.04, 0.25] | 0.10 [0.05, 0.20] | none |"
    assert rows[3] == "| `finetuned` | 0.90 [0.80, 0.95] | 0.90 [0.85, 0.94] | 512 |"
    assert rows[4].startswith("| majority baseline | 0.46 [0.40, 0.52]")
    assert rows[-1] == "Fine-tune: 2.5 min of training, 190 tokens/s, final loss 0.250."


def test_write_replaces_only_the_marked_block(tmp_path):
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "summary.json").write_text(json.dumps(SUMMARY))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nold table\n{END}\noutro\n")
    main([str(tmp_path / "report"), "--write", str(readme)])
    text = readme.read_text()
    assert text.startswith("intro\n" + START) and text.endswith(END + "\noutro\n") and "old table" not in text
    with pytest.raises(ValueError, match="block to replace"):
        replace_block("no markers here", "x")


def test_the_readme_has_the_generated_block():
    text = (ROOT / "README.md").read_text()
    assert text.count(START) == 1 and text.count(END) == 1


def test_every_file_the_readme_links_to_is_in_the_repository():
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#]+)\)", text)
    assert links and all((ROOT / link).exists() for link in links), [l for l in links if not (ROOT / l).exists()]
