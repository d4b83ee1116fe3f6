"""Packaging: the wheel installs into a fresh venv, runs, and serves the web app from the installed copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib

import pytest

from vnerteach.web.server import make_app, static_dir

from helpers import ROOT
from helpers.web import wsgi_get


def test_every_python_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in ROOT.glob("vnerteach/**/__init__.py")}
    found |= {".".join(("vnerteach", *p.parent.relative_to(ROOT).parts)) for p in ROOT.glob("recipes/**/__init__.py")}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"
    assert "recipes" not in listed  # a bare top-level name any other package may claim


def test_builtin_recipes_load_once_under_the_package_name():
    code = ("import sys; from vnerteach.cli import load_builtin; load_builtin(); "
            "print(sorted(m for m in sys.modules if m == 'recipes' or m.startswith(('recipes.', 'vnerteach.recipes')))); "
            "import vnerteach.registry as r; print(sorted(r.recipes()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert eval(out[0]) == ["vnerteach.recipes", "vnerteach.recipes.common", "vnerteach.recipes.db", "vnerteach.recipes.manual",
                            "vnerteach.recipes.ocr", "vnerteach.recipes.predict", "vnerteach.recipes.pretrain",
                            "vnerteach.recipes.review", "vnerteach.recipes.teach",
                            "vnerteach.recipes.train"]
    assert "ner.teach" in eval(out[1])


def test_static_app_is_served_and_paths_cannot_escape():
    app = make_app()
    status, body = wsgi_get(app, "/")
    assert status.startswith("200") and b"<title>vnerteach</title>" in body
    assert wsgi_get(app, "/static/style.css")[0].startswith("200")
    for sneaky in ("/static/../pyproject.toml", "/static/%2e%2e/pyproject.toml", "/static//etc/passwd"):
        status, body = wsgi_get(app, sneaky)
        assert not status.startswith("200") and b"[project]" not in body and b"root:" not in body
    assert (static_dir() / "index.html").is_file()


SERVE_FROM_INSTALLED = """
import vnerteach, vnerteach.web.server as s
from wsgiref.util import setup_testing_defaults
env = {"PATH_INFO": "/static/style.css", "REQUEST_METHOD": "GET"}; setup_testing_defaults(env)
out = []
body = b"".join(s.make_app()(env, lambda st, h, e=None: out.append(st)))
print(out[0], len(body), s.static_dir())
"""


@pytest.mark.slow
def test_wheel_installs_and_runs_in_a_fresh_venv(tmp_path):
    # Built from a copy of the files git would commit: a stale build/ folder cannot leak into the wheel.
    source = tmp_path / "source"
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    # Offline: built with the test environment's setuptools, and installed without an index; the fresh venv
    # borrows this environment's dependencies through a path file (its own site-packages comes first).
    offline = {**os.environ, "PIP_NO_INDEX": "1"}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", tmp_path / "dist", source], check=True, capture_output=True, env=offline)
    [wheel] = (tmp_path / "dist").glob("vnerteach-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([venv / "bin" / "pip", "install", "--no-deps", "-q", wheel], check=True, capture_output=True,
                   env=offline)
    run = dict(capture_output=True, text=True, cwd=tmp_path, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    help_text = subprocess.run([venv / "bin" / "vnerteach", "--help"], **run)
    assert help_text.returncode == 0, help_text.stderr
    assert "db-in" in help_text.stdout and "stats" in help_text.stdout
    assert (site / "vnerteach" / "recipes" / "teach.py").is_file() and not (site / "recipes").exists()
    assert subprocess.run([venv / "bin" / "python", "-m", "vnerteach", "stats"], **run).returncode == 0
    served = subprocess.run([venv / "bin" / "python", "-c", SERVE_FROM_INSTALLED], **run)
    assert served.stdout.startswith("200 OK"), served.stderr
    _, _, size, folder = served.stdout.split()
    assert int(size) == (ROOT / "static" / "style.css").stat().st_size
    assert folder.startswith(str(venv)) and folder.endswith("site-packages/vnerteach/static")
