"""The library as another app gets it: a wheel built from this repo, in a fresh venv outside the repo.

One test (about 20-40 s: a wheel build and a venv whose dependencies pip takes from its cache or PyPI) runs the
docs' "Use as a library" example (docs/library.md) there, exactly as written, and checks the dist/ it writes and
the console script ``redis-shared`` the wheel installs (its version is the wheel's).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def library_example() -> str:
    """The first ``python`` block of docs/library.md ("Use as a library")."""
    page = (ROOT / "docs" / "library.md").read_text()
    assert page.startswith("# Use as a library\n"), "docs/library.md is not the page 'Use as a library'"
    block = re.search(r"^```python\n(.*?)^```$", page, re.S | re.M)
    assert block, "docs/library.md has no python block"
    return block.group(1)


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _clean_env(tmp: Path) -> dict[str, str]:
    """The environment of a user's shell: no JSII_NODE (make exports one), no venv or PYTHONPATH of this repo."""
    env = {k: v for k, v in os.environ.items() if k not in {"JSII_NODE", "PYTHONPATH", "VIRTUAL_ENV", "CDK8S_OUTDIR"}}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT)))
    env["HOME"] = env.get("HOME", str(tmp))
    return env


def test_library_example_synthesizes_from_wheel_in_fresh_venv(tmp_path: Path) -> None:
    env = _clean_env(tmp_path)
    # Build from a copy, so the build leaves nothing (build/, *.egg-info) in the work tree.
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copy(ROOT / "README.md", src)
    shutil.copy(ROOT / "LICENSE", src)
    shutil.copytree(ROOT / "redis_constructs", src / "redis_constructs", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(src)], cwd=src, env=env)
    (wheel,) = wheels.glob("redis_shared-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        top = {n.split("/", 1)[0] for n in zf.namelist() if not n.split("/", 1)[0].endswith(".dist-info")}
        names = set(zf.namelist())
    assert top == {"redis_constructs"}
    assert "redis_constructs/_imports/crds/monitoring.coreos.com.yaml" in names
    assert "redis_constructs/_imports/crds/strict-schemas.json" in names
    assert "redis_constructs/_imports/com/bitnami/_jsii/combitnami@0.0.0.jsii.tgz" in names

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=env)
    py = venv / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)], cwd=tmp_path, env=env)

    app = tmp_path / "shop-app"
    app.mkdir()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    shown = _run([str(venv / "bin" / "redis-shared"), "--version"], cwd=tmp_path, env=env)
    assert shown.stdout == f"redis-shared {version}\n"

    (app / "main.py").write_text(library_example())
    proc = _run([str(py), "main.py"], cwd=app, env=env)
    assert "end-of-life" not in proc.stderr, proc.stderr
    assert proc.stderr == "", proc.stderr

    folders = sorted(p.name for p in (app / "dist").iterdir())
    assert folders == ["shop-cache"]
    objects = list(yaml.safe_load_all((app / "dist" / "shop-cache" / "manifests.yaml").read_text()))
    kinds = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects}
    assert ("StatefulSet", "cache", "redis-shared-master") in kinds
    assert ("StatefulSet", "cache", "redis-shared-replicas") in kinds
    assert ("ExternalSecret", "shop", "redis-shared-client") in kinds
    assert ("ExternalSecret", "cache", "redis-shared-system") in kinds
    assert ("ServiceMonitor", "cache", "redis-shared") in kinds
    assert ("PrometheusRule", "cache", "redis-shared") in kinds
    monitor = next(o for o in objects if o["kind"] == "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    # The installed package is the only thing the app found: no top-level `imports` from this repo.
    probe = _run([str(py), "-c", "import importlib.util as u; print(u.find_spec('imports'))"], cwd=app, env=env)
    assert probe.stdout.strip() == "None"
