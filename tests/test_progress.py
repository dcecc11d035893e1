"""Long steps report progress in their log files (no terminal: Snakemake logs, CI, cluster jobs)."""
import time

from needlework import progress as progress_module
from needlework.progress import progress
from needlework.stages.runtime import step_log


def test_progress_reaches_the_step_log_as_lines_with_count_rate_and_eta(tmp_path, monkeypatch):
    monkeypatch.setattr(progress_module, "LOG_EVERY_S", 0.05)
    log = tmp_path / "label.log"
    with step_log(log):
        for _ in progress(range(20), desc="label needles", unit="needle"):
            time.sleep(0.01)
    text = log.read_text()
    lines = [line for line in text.splitlines() if line.startswith("label needles")]
    assert "\r" not in text
    assert 3 <= len(lines) <= 10  # start, a few updates at the interval, the end
    assert "0/20" in lines[0] and "20/20" in lines[-1]
    assert "needle/s" in lines[-1] and "<" in lines[-2]  # rate and ETA ("elapsed<remaining")


def test_progress_lines_are_rate_limited(tmp_path, monkeypatch):
    monkeypatch.setattr(progress_module, "LOG_EVERY_S", 3600.0)
    log = tmp_path / "eval.log"
    with step_log(log):
        for _ in progress(range(100_000), desc="generate", unit="prompt"):
            pass
    lines = [line for line in log.read_text().splitlines() if line.startswith("generate")]
    assert len(lines) == 2 and "100000/100000" in lines[-1]
