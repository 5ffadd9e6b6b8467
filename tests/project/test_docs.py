"""The front door and the docs: a short README, links and pointers that resolve, and every code block marked
runnable runs (``<!-- runnable -->`` on the line before its fence). The site itself is built strictly by
``make docs``, a step of ``make test``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
MARKER = "<!-- runnable -->"
#: How many runnable blocks there are: a lost marker (or a block that quietly stopped being one) fails here.
RUNNABLE_BLOCKS = 2

_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>\w*)[^\n]*\n(?P<body>.*?)^(?P=indent)```$", re.S | re.M)
_HEADING = re.compile(r"^#{1,6} (.+?)\s*$", re.M)
#: ``docs/<page>.md#<anchor>`` of this site (its pages sit in docs/, docs/adr/ and docs/reference/); another
#: project's ``docs/metrics/.../x.md`` (kube-state-metrics, say) is not one.
_POINTER = re.compile(r"docs/(?P<page>(?:(?:adr|reference)/)?[\w-]+\.md)(?:#(?P<anchor>[\w-]+))?")
_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def slug(heading: str) -> str:
    """A heading's anchor as MkDocs makes it (Python-Markdown's ``toc`` slugify)."""
    text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", re.sub(r"`", "", text)).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text())
    return {slug(h) for h in _HEADING.findall(text)}


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "_ext" not in p.parts)


def runnable_blocks() -> list[tuple[str, str, str]]:
    """``(where, language, code)`` of every block right after the marker, in the README and the docs."""
    found = []
    for path in [ROOT / "README.md", *pages()]:
        text = path.read_text()
        for match in _FENCE.finditer(text):
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
            if before == MARKER:
                line = text[: match.start()].count("\n") + 1
                found.append((f"{path.relative_to(ROOT)}:{line}", match["lang"], match["body"]))
    return found


def test_readme_is_short_and_names_nothing_users_cannot_see() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    assert not re.findall(r"\btest_\w+", readme)
    assert not re.findall(r"(?<![\w&])#\d+\b", readme), "issue numbers"


@pytest.mark.parametrize("source", ["README.md", "CHANGELOG.md", *(str(p.relative_to(ROOT)) for p in pages())])
def test_relative_links_resolve(source: str) -> None:
    path = ROOT / source
    for target in _LINK.findall(_FENCE.sub("", path.read_text())):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        assert resolved.exists(), f"{source}: {target}"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{source}: {target}: no heading with anchor {anchor!r}"


def test_docs_pointers_in_code_and_messages_exist() -> None:
    """Every ``docs/<page>.md#<anchor>`` the code, its messages or the site app names is a page and a heading."""
    sources = [*ROOT.joinpath("redis_constructs").rglob("*.py"), ROOT / "main.py", ROOT / "Makefile"]
    seen = 0
    for source in sources:
        if "_imports" in source.parts:
            continue
        for match in _POINTER.finditer(source.read_text()):
            page = DOCS / match["page"]
            assert page.is_file(), f"{source.relative_to(ROOT)}: {match[0]}"
            if match["anchor"]:
                assert match["anchor"] in anchors(page), f"{source.relative_to(ROOT)}: {match[0]}"
            seen += 1
    assert seen >= 20


def test_readme_pointers_in_rendered_messages_exist() -> None:
    """The pods' scripts and the alerts (rendered into dist/) still say ``README 'Failover'``; the README keeps
    each such name as an entry that links into the docs."""
    readme = (ROOT / "README.md").read_text()
    names = set()
    for source in ROOT.joinpath("redis_constructs").rglob("*.py"):
        names |= set(re.findall(r"README:? [\"'](\w[^\"']*)", source.read_text()))
    assert {"Failover", "Full disk", "Primary lost", "Upgrades"} <= names
    for name in names:
        assert f"- **{name}" in readme, name


def test_every_runnable_block_runs(tmp_path: Path) -> None:
    blocks = runnable_blocks()
    assert len(blocks) == RUNNABLE_BLOCKS, [where for where, _, _ in blocks]
    # `redis-shared` (and `.venv/bin/redis-shared`) is this checkout's command line, whatever is installed.
    for bin_dir in (tmp_path / "bin", tmp_path / ".venv" / "bin"):
        bin_dir.mkdir(parents=True)
        shim = bin_dir / "redis-shared"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m redis_constructs "$@"\n')
        shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    for n, (where, language, code) in enumerate(blocks):
        cwd = tmp_path / f"block{n}"
        cwd.mkdir()
        (cwd / ".venv").symlink_to(tmp_path / ".venv")
        if language == "python":
            command = [sys.executable, "-c", code]
        else:
            assert language in ("sh", "bash"), f"{where}: a runnable block is sh or python, not {language!r}"
            command = ["bash", "-euo", "pipefail", "-c", code]
        run = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert run.returncode == 0, f"{where} exited {run.returncode}:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"


def test_the_offline_sealing_block_seals_every_password(tmp_path: Path) -> None:
    """What the credentials page's runnable block leaves behind: a sealed-values file the site app can read."""
    (where, _, code) = next(b for b in runnable_blocks() if b[0].startswith("docs/credentials.md"))
    shim = tmp_path / "bin" / "redis-shared"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m redis_constructs "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "6", where
    from redis_constructs.credentials.sealing import read_sealed_file

    values = read_sealed_file(tmp_path / "sealed" / "values.yaml")
    assert values.namespaces("redis-shared-client") == ("beersystem", "redis")
    assert len([v for v in values.values if v.secret_name == "redis-shared-system"]) == 4
