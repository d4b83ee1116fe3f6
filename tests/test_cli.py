"""The command line: help, the registry, the db commands and user errors without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import EntryPoint

import pytest
import typer
from typer.testing import CliRunner

from vnerteach import registry
from vnerteach.cli import build_app, make_command
from vnerteach.loop.components import Components

from helpers import ROOT, write_jsonl


def run_module(*args, env=None, input=None):
    """Run ``python -m vnerteach`` as a user would, with no terminal."""
    return subprocess.run([sys.executable, "-m", "vnerteach", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, input=input, cwd=ROOT)


def assert_clean_error(result, code=1):
    output = result.stdout + (result.stderr or "")
    assert result.exit_code == code, output
    assert "Traceback" not in output
    assert isinstance(result.exception, SystemExit)


def test_help_lists_every_recipe_with_its_summary(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for name, func in registry.recipes().items():
        assert name in result.stdout
        assert func.__doc__.strip().split("\n")[0][:30] in " ".join(result.stdout.split())


def test_every_recipe_has_help_with_an_example(cli):
    assert {"stats", "db-in", "db-out", "drop"} <= set(registry.recipes())
    for name, func in registry.recipes().items():
        assert func.__doc__ and func.__doc__.strip(), f"{name} has no docstring"
        result = cli(name, "--help")
        assert result.exit_code == 0
        text = " ".join(result.stdout.split())
        assert f"Example: vnerteach {name}" in text, f"{name} --help shows no example"
        assert "--db" in text


def test_unknown_recipe_suggests_close_names(cli):
    result = cli("db-ot", "news")
    assert result.exit_code == 2
    assert "No recipe named 'db-ot'. Did you mean: db-out" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_python_dash_m_and_user_recipe_file(tmp_path, db_path):
    recipe_file = tmp_path / "my_recipes.py"
    recipe_file.write_text('''
from typing import Annotated
from vnerteach import recipe, Arg, Opt

@recipe("hello")
def hello(name: Annotated[str, Arg("Who to greet")], shout: Annotated[bool, Opt("Upper case")] = False,
          label: Annotated[list[str] | None, Opt("Labels")] = None):
    """Greet someone.

    Example: vnerteach hello World -F my_recipes.py
    """
    text = f"Hello {name} {label}"
    print(text.upper() if shout else text)
''')
    result = run_module("hello", "World", "--shout", "--label", "A,B", "--label", "C", "-F", recipe_file)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "HELLO WORLD ['A', 'B', 'C']"
    listing = run_module("-F", recipe_file, "--help")
    assert "hello" in listing.stdout and "Greet someone." in listing.stdout


@pytest.mark.slow
def test_broken_user_recipe_file_is_reported(tmp_path, db_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import nonexistent_module_xyz\n")
    result = run_module("stats", "-F", bad)
    assert result.returncode == 1
    assert f"-F {bad}: failed to load: ModuleNotFoundError" in result.stderr
    assert "Traceback" not in result.stderr
    missing = run_module("stats", "-F", tmp_path / "nope.py")
    assert missing.returncode == 1 and "no such file" in missing.stderr


def test_entry_point_recipes(monkeypatch, tmp_path, db_path):
    plugin = tmp_path / "vnt_plugin.py"
    plugin.write_text('''
def shout(word: str):
    """Print a word in upper case.

    Example: vnerteach plugin.shout hi
    """
    print(word.upper())
''')
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [EntryPoint("plugin.shout", "vnt_plugin:shout", registry.ENTRY_POINT_GROUP),
           EntryPoint("plugin.broken", "vnt_missing_module:x", registry.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(registry, "entry_points", lambda group: [e for e in eps if e.group == group])
    monkeypatch.setattr(registry, "_recipes", dict(registry._recipes))
    warnings = registry.load_entry_points()
    assert len(warnings) == 1 and "plugin.broken" in warnings[0]
    result = CliRunner().invoke(build_app(), ["plugin.shout", "hi"])
    assert result.exit_code == 0 and result.stdout.strip() == "HI"


def test_db_in_out_stats_drop(cli, tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [
        {"text": "Apple buys a startup", "spans": [{"start": 0, "end": 5, "label": "ORG"}]},
        {"text": "No entities here", "answer": "reject"},
        {"text": "Skip me", "answer": "ignore", "meta": {"id": 3}},
    ])
    result = cli("db-in", "news", src)
    assert result.exit_code == 0 and "Imported 3 examples into 'news'" in result.stderr
    again = cli("db-in", "news", src)
    assert "Imported 0 examples" in again.stderr and "3 already there" in again.stderr

    out = cli("db-out", "news")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["answer"] for r in rows] == ["accept", "reject", "ignore"]
    assert all(isinstance(r["_task_hash"], int) and isinstance(r["_input_hash"], int) for r in rows)
    assert rows[2]["meta"] == {"id": 3}
    filtered = cli("db-out", "news", "--answer", "accept,reject")
    assert len(filtered.stdout.splitlines()) == 2
    target = tmp_path / "out.jsonl"
    assert cli("db-out", "news", target, "--answer", "ignore").exit_code == 0
    assert [json.loads(line)["text"] for line in target.read_text().splitlines()] == ["Skip me"]

    stats = " ".join(cli("stats").stdout.split())
    assert "news 3 1 1 1 0 " in stats
    assert "news" in cli("stats", "news").stdout

    refused = cli("drop", "news", input="n\n")
    assert_clean_error(refused, 2)
    assert "not dropped" in refused.stderr and cli("db-out", "news").stdout
    assert cli("drop", "news", input="y\n").exit_code == 0
    assert "No datasets yet" in cli("stats").stderr


@pytest.mark.slow
def test_stats_shows_whole_names_at_80_columns(tmp_path, db_path):
    names = ["receipts_2026_batch_one_corrected", "x", "forms-gold-annotator-alice"]
    for name in names:
        assert run_module("db-in", name, "-", input='{"text": "a"}\n').returncode == 0
    table = run_module("stats", env={"COLUMNS": "80"}).stdout
    assert max(len(line) for line in table.splitlines()) <= 80
    folded = "".join(line.split()[0] for line in table.splitlines()[4:] if line.strip())
    assert all(name in folded for name in names)
    assert "Last activity" in table and str(__import__("datetime").date.today().year) in table


def test_db_option_applies_to_its_own_command_only(cli, tmp_path, db_path):
    other = tmp_path / "other.db"
    assert cli("db-in", "ds2", write_jsonl(tmp_path / "t.jsonl", [{"text": "a"}]), "--db", other).exit_code == 0
    assert "ds2" in cli("stats", "--db", other).stdout
    default = cli("stats")
    assert default.exit_code == 0 and "ds2" not in default.stdout
    assert str(db_path) in default.stderr + default.stdout
    assert "VNERTEACH_DB" not in os.environ or os.environ["VNERTEACH_DB"] == str(db_path)


@pytest.mark.slow
def test_a_recipe_that_declares_db_gets_the_database(tmp_path, db_path):
    recipe_file = tmp_path / "count.py"
    recipe_file.write_text('''
from vnerteach import recipe
from vnerteach.store import connect

@recipe("count")
def count(*, db: str):
    """Print the database and its datasets.

    Example: vnerteach count -F count.py
    """
    print(db, connect(db).datasets())
''')
    assert run_module("db-in", "x", "-", "--db", tmp_path / "o.db", input='{"text": "hello"}\n').returncode == 0
    result = run_module("count", "--db", tmp_path / "o.db", "-F", recipe_file)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{tmp_path / 'o.db'} ['x']"


def test_only_a_recipe_annotated_to_return_components_serves_the_web_app(db_path):
    def annotated(dataset: str) -> Components:
        """Nothing to annotate this time: no server starts."""
        return None

    def plain(dataset: str):
        """Components without the annotation: refused, not served."""
        return {"dataset": dataset, "stream": iter([]), "view_id": "text"}

    assert registry.serves(annotated) and not registry.serves(plain)
    app = typer.Typer()
    for func in (annotated, plain):
        app.command(name=func.__name__)(make_command(func))
    assert "--port" in CliRunner().invoke(app, ["annotated", "--help"]).stdout
    assert "--port" not in CliRunner().invoke(app, ["plain", "--help"]).stdout
    assert CliRunner().invoke(app, ["annotated", "news"]).exit_code == 0
    refused = CliRunner().invoke(app, ["plain", "news"])
    assert refused.exit_code == 1 and "only a recipe annotated '-> Components'" in refused.stderr


def test_db_in_from_stdin_text_and_with_answer(cli, tmp_path):
    result = cli("db-in", "lines", "-", "--answer", "reject", input='{"text": "a"}\n{"text": "b"}\n')
    assert result.exit_code == 0
    txt = tmp_path / "lines.txt"
    txt.write_text("one\ntwo\n")
    assert cli("db-in", "lines", txt).exit_code == 0
    answers = [json.loads(line)["answer"] for line in cli("db-out", "lines").stdout.splitlines()]
    assert answers == ["reject", "reject", "accept", "accept"]


def test_db_in_keeps_hashes_with_no_rehash(cli, tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "a", "_input_hash": 7, "_task_hash": 8}])
    cli("db-in", "kept", src, "--no-rehash")
    cli("db-in", "fresh", src)
    kept = json.loads(cli("db-out", "kept").stdout)
    fresh = json.loads(cli("db-out", "fresh").stdout)
    assert (kept["_input_hash"], kept["_task_hash"]) == (7, 8)
    assert fresh["_input_hash"] != 7


@pytest.mark.parametrize("lines, message", [
    (['{"text": "ok"}', '{"text": "fine"', '{"text": "never read"}'], "in.jsonl:2: invalid JSON"),
    (['{"text": "ok"}', '{"text": "fine"}', '{"meta": {"n": 3}}'], "in.jsonl:3: task has no 'text', 'image' or 'tokens'"),
    (['{"text": "ok", "answer": "yes"}'], "in.jsonl:1: 'answer' must be one of"),
    (['["a list"]'], "in.jsonl:1: expected a JSON object"),
])
def test_db_in_bad_line_imports_nothing(cli, tmp_path, lines, message):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    cli("db-in", "existing", write_jsonl(tmp_path / "ok.jsonl", [{"text": "already here"}]))
    result = cli("db-in", "news", src)
    assert_clean_error(result, 1)
    assert message in result.stderr
    assert "news" not in cli("stats").stdout
    assert "Dataset 'news' not found. Existing datasets: existing" in cli("db-out", "news").stderr


@pytest.mark.parametrize("args, message, code", [
    (["db-out", "nope"], "Dataset 'nope' not found. Existing datasets: none yet", 1),
    (["stats", "nope"], "Dataset 'nope' not found", 1),
    (["drop", "nope", "--yes"], "Dataset 'nope' not found", 1),
    (["db-in", "x", "missing.jsonl"], "missing.jsonl: no such file or folder", 1),
    (["db-in", "x", "in.csv"], "unsupported file type '.csv'", 1),
    (["db-in", "x", "-", "--answer", "maybe"], "--answer: unknown answer maybe", 2),
    (["db-out", "x", "--answer", "yes"], "--answer: unknown answer yes", 2),
    (["stats", "--db", "/nonexistent-folder/v.db"], "Cannot open database /nonexistent-folder/v.db: folder /nonexistent-folder does not exist", 1),
    (["stats", "--db", "mysql://h/db"], "Unsupported database URL scheme 'mysql://'", 2),
])
def test_user_errors_are_one_clear_line(cli, tmp_path, monkeypatch, args, message, code):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.csv").write_text("a,b\n")
    result = cli(*args)
    assert_clean_error(result, code)
    assert message in " ".join(result.stderr.split())


def test_db_out_to_a_missing_folder(cli, tmp_path):
    cli("db-in", "news", write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}]))
    result = cli("db-out", "news", tmp_path / "no" / "out.jsonl")
    assert_clean_error(result, 1)
    assert "does not exist" in result.stderr


@pytest.mark.slow
def test_subprocess_errors_have_no_traceback_and_stdout_stays_data(tmp_path):
    env = {"VNERTEACH_DB": str(tmp_path / "s.db"), "VNERTEACH_HOME": str(tmp_path)}
    bad = run_module("db-in", "x", "-", env=env, input='{"text": "a"}\n{oops}\n')
    assert bad.returncode == 1 and "<stdin>:2: invalid JSON" in bad.stderr and "Traceback" not in bad.stderr
    assert run_module("db-in", "x", "-", env=env, input='{"text": "a"}\n').returncode == 0
    out = run_module("db-out", "x", env=env)
    assert json.loads(out.stdout)["text"] == "a"
    drop = run_module("drop", "x", env=env)  # no terminal and no --yes: refused, nothing deleted
    assert drop.returncode == 2 and "not dropped" in drop.stderr


@pytest.mark.parametrize("url, message", [
    ("postgresql://", "name the database"),
    ("postgresql://localhost:99999/x", "Port out of range"),
    ("postgresql://[::1:", "Invalid IPv6 URL"),
    ("postgresql://u:secret@h:abc/x", "Port could not be cast"),
])
def test_a_bad_postgresql_url_is_one_line_naming_db(cli, url, message):
    """Issue 23 point 9: these were tracebacks (peewee's InterfaceError, urllib's ValueError)."""
    pytest.importorskip("psycopg2")
    result = cli("stats", "--db", url)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "--db postgresql://" in result.stderr and message in result.stderr and "secret" not in result.stderr


def test_flags_show_no_bool_metavar_in_help(cli):
    """Issue 23 point 17: `--fresh <bool>` read as if it took a value."""
    out = cli("ner.teach", "--help").stdout
    options = [line for line in out.splitlines() if line.lstrip("│ ").startswith("--")]
    assert any(line.lstrip("│ ").startswith("--fresh") for line in options)
    assert any("<path>" in line for line in options if "--patterns" in line)  # options that take a value say so
    assert "<bool>" not in out


def test_a_missing_model_is_named_as_the_model(cli, tmp_path):
    """Issue 23 point 17: `ner.teach ds news.jsonl --label ORG` said "Missing argument 'source'"."""
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": "Acme"}])
    result = cli("ner.teach", "ds", src, "--label", "ORG")
    assert result.exit_code == 2 and "Missing argument 'MODEL'" in result.stderr and str(src) in result.stderr
    result = cli("ner.correct", "ds", "blank:en", "--label", "ORG")
    assert result.exit_code == 2 and "Missing argument 'SOURCE'" in result.stderr


@pytest.mark.parametrize("labels, message", [(["NEW ORG"], "a label is one word"), (["ORG", " "], "an empty value")])
def test_labels_with_spaces_or_empty_are_refused(cli, tmp_path, labels, message):
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": "Acme"}])
    args = [a for label in labels for a in ("--label", label)]
    result = cli("ner.manual", "ds", "blank:en", src, *args)
    assert result.exit_code == 2 and message in result.stderr


def test_a_bad_label_colour_is_one_line_before_anything_loads(cli, tmp_path):
    src = write_jsonl(tmp_path / "t.jsonl", [{"text": "Acme"}])
    result = cli("ner.manual", "ds", "blank:en", src, "--label", "ORG", "--label-colors", "ORG=red")
    assert result.exit_code == 2 and "--label-colors: 'ORG=red' is not LABEL=#RRGGBB" in result.stderr


def test_the_version_is_the_installed_packages():
    from importlib.metadata import version

    import vnerteach

    assert vnerteach.__version__ == version("vnerteach") and vnerteach.__version__[0].isdigit()
