"""A new user's first hour: config given the Snakemake way, dead endpoints found before any job, one-line errors."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from fake_openai import FakeOpenAI, unused_base_url

from needlework.corpus import build
from needlework.corpus.rejects import Rejects, summarize
from needlework.io import InputError
from needlework.stages.preflight import Endpoint, check_before_run, probe
from needlework.stages.runtime import step_log
from workflow_helpers import ROOT, snakemake

TINY = "experiment=tiny_base"
SMALL_DATA = "data.n=300 needles.n_train=40 needles.n_eval=3 needles.max_words=80 context.needles_per_cell=1"


def _printed(workdir, *args):
    """The config the workflow composes for these Snakemake arguments (`--config print_config=true`)."""
    result = snakemake(workdir, *args)
    assert result.returncode == 0, result.stderr[-2000:]
    return yaml.safe_load(result.stdout)


def _last_line(result):
    return result.stderr.strip().splitlines()[-1]


# 1. Snakemake's own config idioms


def test_config_key_and_configfile_apply_like_the_hydra_override(tmp_path):
    cf = tmp_path / "cf.yaml"
    cf.write_text("lora: r64\ntrain:\n  max_steps: 7\ncontext.lengths: [256, 512]\n")
    hydra_way = _printed(tmp_path, "--config", "print_config=true",
                         "overrides=lora=r64 train.max_steps=7 context.lengths=[256, 512]")
    assert hydra_way["lora"]["r"] == 64 and hydra_way["train"]["max_steps"] == 7
    assert _printed(tmp_path, "--configfile", str(cf), "--config", "print_config=true") == hydra_way
    by_key = _printed(tmp_path, "--config", "lora=r64", "train={max_steps: 7}", "context={lengths: [256, 512]}",
                      "print_config=true")
    assert by_key == hydra_way
    assert not (tmp_path / "results").exists()


def test_config_key_changes_what_the_run_builds(tmp_path):
    plain = snakemake(tmp_path, "-n", "train", "--config", f"overrides={TINY}")
    ranked = snakemake(tmp_path, "-n", "train", "--config", "lora=r64", f"overrides={TINY}")
    assert plain.returncode == ranked.returncode == 0, ranked.stderr[-2000:]
    assert "lora8-" in plain.stdout and "lora8-" not in ranked.stdout and "lora64-" in ranked.stdout


@pytest.mark.parametrize("args,named", [
    (["--config", "overide=lora=r64"], "'overide' is not a config key (did you mean overrides?)"),
    (["--config", "foo=1"], "'foo' is not a config key"),
    (["--config", "lora=r6"], "did you mean r64?"),
    (["--config", "overrides=lora.rr=16"], "config key lora.rr: not in the config (did you mean lora.r?)"),
])
def test_a_config_that_would_be_ignored_stops_before_any_job_in_one_line(tmp_path, args, named):
    result = snakemake(tmp_path, "-n", *args)
    assert result.returncode != 0
    line = _last_line(result)
    assert line.startswith("needlework: ") and named in line
    assert "Traceback" not in result.stderr and not (tmp_path / "results").exists()


# 2. Endpoints checked before any job


def test_a_dead_labeler_endpoint_stops_the_run_within_seconds_before_any_job(tmp_path):
    url = unused_base_url()
    start = time.monotonic()
    result = snakemake(tmp_path, "labels", overrides=f"{TINY} labeler=openai labeler.base_url={url}",
                       env={"OPENAI_API_KEY": "sk-test"})
    assert time.monotonic() - start < 30  # was 1 min 37 s of retries inside the labels job
    assert result.returncode != 0
    assert _last_line(result).startswith(f"needlework: config key labeler.base_url: {url} cannot be reached")
    assert "Traceback" not in result.stderr and not (tmp_path / "results" / "corpus").exists()


def test_a_dead_searchpath_model_stops_the_run_naming_it(tmp_path):
    url = unused_base_url()
    conf = tmp_path / "conf"
    (conf / "model").mkdir(parents=True)
    (conf / "model" / "my-vllm.yaml").write_text(f"backend: openai\nbase_url: {url}\nmodel: m\napi_key_env: null\n")
    result = snakemake(tmp_path / "w", "evaluate",
                       overrides=f"{TINY} hydra.searchpath=[file://{conf}] eval.models=[base,my-vllm]")
    assert result.returncode != 0
    assert f"needlework: config key model 'my-vllm' base_url: {url} cannot be reached" in result.stderr
    assert not (tmp_path / "w" / "results" / "corpus").exists()


def test_a_target_is_not_blocked_by_a_key_only_another_target_needs(tmp_path):
    """`snakemake labels` never calls gpt-4o-mini: its unset key does not stop it (`snakemake evaluate` would)."""
    overrides = f"{TINY} {SMALL_DATA} eval.models=[base,gpt-4o-mini]"
    result = snakemake(tmp_path, "labels", overrides=overrides, env={"OPENAI_API_KEY": ""})
    assert result.returncode == 0, result.stderr[-3000:]
    result = snakemake(tmp_path, "evaluate", overrides=overrides, env={"OPENAI_API_KEY": ""})
    assert result.returncode != 0
    assert "OPENAI_API_KEY (from model 'gpt-4o-mini' api_key_env)" in _last_line(result)


class _RejectsKeys(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server naming
        self.send_response(401)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_probe_tells_up_refused_and_rejected_apart_and_costs_little_when_up(monkeypatch):
    monkeypatch.setenv("NEEDLEWORK_TEST_KEY", "sk-test")
    with FakeOpenAI(api_key="sk-test") as server:
        start = time.monotonic()
        assert probe(server.base_url, "NEEDLEWORK_TEST_KEY") is None
        assert time.monotonic() - start < 1.0
    url = unused_base_url()
    assert "cannot be reached" in probe(url, None) and url in probe(url, None)
    rejecting = ThreadingHTTPServer(("127.0.0.1", 0), _RejectsKeys)
    threading.Thread(target=rejecting.serve_forever, daemon=True).start()
    try:
        problem = probe(f"http://127.0.0.1:{rejecting.server_port}/v1", "NEEDLEWORK_TEST_KEY")
    finally:
        rejecting.shutdown()
    assert problem.startswith("rejected the API key: HTTP 401") and "NEEDLEWORK_TEST_KEY" in problem


def test_every_dead_endpoint_is_named_once_with_its_config_keys():
    from needlework.config import ConfigError, compose

    cfg = compose(TINY, config_dir=ROOT / "conf")
    dead, other = unused_base_url(), unused_base_url()
    endpoints = [Endpoint("labeler", dead, None), Endpoint("model 'a'", dead, None), Endpoint("model 'b'", other, None)]
    start = time.monotonic()
    with pytest.raises(ConfigError) as err:
        check_before_run(cfg, endpoints)
    assert time.monotonic() - start < 5
    assert str(err.value).startswith(f"config key labeler.base_url, model 'a' base_url: {dead} cannot be reached")
    assert f"config key model 'b' base_url: {other}" in str(err.value)


# 3. One message, no traceback


def test_a_data_error_in_a_job_is_one_line_without_traceback(tmp_path):
    path = tmp_path / "bios.jsonl"
    path.write_text('{"name": "a b", "bio": "a b was a poet ."}\n{"name": "c d", "bio": \n')
    result = snakemake(tmp_path / "w", "corpus", overrides=f"{TINY} data=jsonl data.path={path} data.text_field=bio")
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert out.count(f"needlework: {path}:2: malformed JSON") == 1
    assert "Traceback" not in out


def _bad_labels_file(path, n=100, every=10):
    label = {"nationality": "french", "date_of_birth": {"day": 1, "month": 2, "year": 1900},
             "date_of_death": {"day": 0, "month": 0, "year": 0}, "sportsperson": False, "politician": False}
    rows = []
    for i in range(n):
        name = f"ann{chr(97 + i % 26)} lee{i}"
        bad = {**label, "date_of_birth": {"day": 200, "month": 2, "year": 1900}} if i % every == 3 else label
        rows.append(json.dumps({"name": name, "bio": f"{name} was a french poet born in 1900 . " * 5, "json": bad}))
    path.write_text("\n".join(rows) + "\n")
    return {"source": "jsonl", "path": str(path), "name_field": "name", "text_field": "bio", "label_field": "json",
            "limit": None, "anonymize": False, "max_bad_share": 0.05}


def test_too_many_bad_records_stop_after_writing_the_audit_the_message_names(tmp_path):
    cfg = _bad_labels_file(tmp_path / "bios.jsonl")
    audit = tmp_path / "audit" / "dropped-at-stop.jsonl"
    with pytest.raises(InputError) as err:
        build.build_corpus(cfg, seed=0, stop_audit=audit)
    message = str(err.value)
    assert message.startswith(f"{cfg['path']}: 10 of 100 records are bad (10.0%, above data.max_bad_share=0.05): "
                              f"{cfg['path']}:4: invalid_label (date_of_birth.day: Input should be less than")
    assert "and 7 more invalid_label" in message and f"all 10 listed in {audit}" in message
    rows = [json.loads(line) for line in audit.read_text().splitlines()]
    assert len(rows) == 10 and {r["where"] for r in rows} == {f"{cfg['path']}:{i + 1}" for i in range(3, 100, 10)}


def test_the_stopped_corpus_step_keeps_its_audit_and_says_so_once(tmp_path):
    path = tmp_path / "bios.jsonl"
    _bad_labels_file(path)
    result = snakemake(tmp_path / "w", "corpus", overrides=f"{TINY} data=jsonl data.path={path} data.text_field=bio "
                                                           "data.label_field=json labeler=field")
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert out.count("needlework: ") == 1 and "Traceback" not in out
    audit = next((tmp_path / "w" / "results" / "corpus").glob("*/audit/dropped-at-stop.jsonl"))
    assert f"listed in {audit.relative_to(tmp_path / 'w')}" in out and len(audit.read_text().splitlines()) == 10


def test_an_empty_source_file_is_named(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(InputError, match=r"empty\.jsonl: no record left \(it is empty\)"):
        build.build_corpus({"source": "jsonl", "path": str(tmp_path / "empty.jsonl"),
                            "name_field": "name", "text_field": "text", "limit": None, "anonymize": False,
                            "max_bad_share": 0.05}, seed=0)


def test_dropped_records_are_summarised_per_reason():
    rejects = Rejects()
    for i in range(30):
        rejects.add("duplicate", f"r{i}", f"f.jsonl:{i + 100}", of=f"r{i - 30}")
    rejects.add("name_leak", "x", "f.jsonl:7", tokens=["ann"])
    lines = summarize(rejects.rows)
    assert len(lines) == 2
    assert lines[0].startswith("f.jsonl:100: duplicate (of r-30), f.jsonl:101: duplicate") and \
        lines[0].endswith("and 27 more duplicate")
    assert lines[1] == "f.jsonl:7: name_leak (tokens ['ann'])"


def test_an_expected_failure_in_a_step_is_one_line_in_console_and_log(tmp_path, capsys):
    log = tmp_path / "step.log"
    with pytest.raises(SystemExit) as stop, step_log(log):
        raise InputError("bios.jsonl:42: malformed JSON (fix the line)")
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert err == "needlework: bios.jsonl:42: malformed JSON (fix the line)\n"
    assert log.read_text().count("needlework: bios.jsonl:42") == 1 and "Traceback" not in log.read_text()


def test_a_bug_keeps_its_traceback_and_debug_shows_it_for_all(tmp_path, monkeypatch):
    log = tmp_path / "step.log"
    with pytest.raises(KeyError), step_log(log):
        raise KeyError("bug")
    assert "Traceback" in log.read_text() and "KeyError: 'bug'" in log.read_text()
    monkeypatch.setenv("NEEDLEWORK_DEBUG", "1")
    with pytest.raises(InputError), step_log(log):
        raise InputError("x.jsonl:1: bad")
    with pytest.raises(SystemExit), step_log(log):  # a missing file is the user's to fix too
        monkeypatch.delenv("NEEDLEWORK_DEBUG")
        open(tmp_path / "nope.jsonl")
