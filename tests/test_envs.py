"""Conda env files (for `--use-conda`, which cannot run here): they parse and agree with the package."""
import re
import tomllib
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pip_section(env):
    for dep in env["dependencies"]:
        if isinstance(dep, dict) and "pip" in dep:
            return dep["pip"]
    raise AssertionError("no pip section")


def test_env_files_install_this_package_with_the_makefile_torch_pin():
    makefile_torch = re.search(r"^TORCH \?= (\S+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    requires_python = SpecifierSet(PYPROJECT["project"]["requires-python"])
    envs = sorted((ROOT / "envs").glob("*.yaml"))
    assert envs
    for path in envs:
        env = yaml.safe_load(path.read_text())
        python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
        assert python.split("=")[1] + ".0" in requires_python, path
        pip = _pip_section(env)
        assert makefile_torch in pip, path
        editable = [p for p in pip if p.startswith("-e ")]
        assert len(editable) == 1, path
        target = (path.parent / editable[0][3:].split("[")[0]).resolve()
        assert (target / "pyproject.toml").exists(), f"{path}: -e does not point at this package"
        extras = re.findall(r"\[(.+)\]", editable[0])
        for extra in extras:
            assert extra in PYPROJECT["project"]["optional-dependencies"], path


def test_torch_pin_satisfies_the_package_requirement():
    torch_req = next(d for d in PYPROJECT["project"]["dependencies"] if d.startswith("torch"))
    pinned = re.search(r"^TORCH \?= torch==(\S+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert pinned in SpecifierSet(torch_req[len("torch"):])


def test_every_rule_file_declares_a_conda_env_that_exists():
    for rules in (ROOT / "workflow" / "rules").glob("*.smk"):
        text = rules.read_text()
        for rule_body in re.split(r"\nrule ", text)[1:]:
            if "script:" in rule_body:
                assert "conda:" in rule_body, f"{rules.name}: rule {rule_body.split(':')[0]} has no conda env"
    common = (ROOT / "workflow" / "rules" / "common.smk").read_text()
    for rel in re.findall(r'"(\.\./\.\./envs/[^"]+)"', common):
        assert (ROOT / "workflow" / "rules" / rel).resolve().exists(), rel
