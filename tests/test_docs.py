"""The docs match the command line: every recipe is documented, and every command shown uses real recipes and flags."""

from __future__ import annotations

import re
import shlex

import click
import pytest
import typer

from vnerteach import cli, registry

from helpers import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RECIPES_DOC = ROOT / "docs" / "recipes.md"
SHELL_FENCES = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```", re.S | re.M)
CODE_SPAN = re.compile(r"`([^`]+)`")
INVOCATION = re.compile(r"(?:^|\s)(?:\S*/)?(?:python3? -m )?vnerteach\s+(.*)", re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def builtin_recipes() -> dict[str, object]:
    """The recipes vnerteach itself registers (not those a test or a plugin added)."""
    cli.load_builtin()
    return {name: func for name, func in registry.recipes().items()
            if func.__module__.startswith(cli.BUILTIN_RECIPES)}


@pytest.fixture(scope="module")
def commands() -> dict[str, click.Command]:
    """The click command of every registered recipe, as `vnerteach` builds them."""
    cli.load_builtin()
    return typer.main.get_command(cli.build_app()).commands


def flags_of(command: click.Command) -> set[str]:
    """Every flag a command accepts, long and short, --x and --no-x, and --help."""
    ctx = click.Context(command)
    return {opt for param in command.get_params(ctx) for opt in (*param.opts, *param.secondary_opts)
            if opt.startswith("-")}


def line_of(text: str, offset: int) -> int:
    """The 1-based line number of a character offset."""
    return text.count("\n", 0, offset) + 1


def shown_commands(text: str) -> list[tuple[int, str, bool]]:
    """(line, arguments, prefixed) of each command in ```bash blocks and inline code (prefixed: shown with `vnerteach`)."""
    found, outside, last = [], [], 0
    for fence in FENCE.finditer(text):
        outside.append((last, text[last:fence.start()]))
        last = fence.end()
        if fence.group(1) not in SHELL_FENCES:
            continue
        start = fence.start(2)
        body = fence.group(2).replace("\\\n", "  ")
        for number, line in enumerate(body.split("\n")):
            line = re.sub(r"(^|\s)#.*$", "", line)
            found.extend((line_of(text, start) + number, part, True) for part in pieces(line))
    outside.append((last, text[last:]))
    for begin, chunk in outside:
        for span in CODE_SPAN.finditer(chunk):
            where = line_of(text, begin + span.start())
            parts = pieces(span.group(1).replace("\n", " "))
            found.extend((where, part, True) for part in parts)
            if not parts:
                found.append((where, span.group(1).replace("\n", " "), False))
    return found


def pieces(line: str) -> list[str]:
    """The `vnerteach ...` invocations of a shell line, split at pipes and command separators."""
    return [m.group(1) for part in re.split(r"\|\||&&|[|;]", line) if (m := INVOCATION.search(part))]


def problems(location: str, command: str, prefixed: bool, commands: dict[str, click.Command]) -> list[str]:
    """What is wrong with one command shown: an unknown recipe, or a flag its recipe does not accept."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    words = [w.strip("[]") for w in words]
    files = [w for w in words if w.startswith("-F")]  # -F FILE.py: a recipe of the user's, loaded from FILE.py
    words = [w for i, w in enumerate(words) if not w.startswith("-F") and (i == 0 or words[i - 1] != "-F")]
    if not words:
        return []
    name, rest = words[0], words[1:]
    if not prefixed and name not in commands:
        return []
    if name.startswith("-"):  # `vnerteach --help`: the group's own flags
        allowed, rest = {"--help"}, words
    elif name not in commands:
        return [] if files else [f"{location}: `vnerteach {command}`: no recipe named {name!r}"]
    else:
        allowed = flags_of(commands[name])
    return [f"{location}: `vnerteach {command}`: {name} has no flag {flag}"
            for flag in (w.split("=", 1)[0] for w in rest if re.match(r"-[-A-Za-z]", w))
            if flag not in allowed]


def all_shown() -> list[tuple[str, str, bool]]:
    return [(f"{doc.relative_to(ROOT)}:{line}", command, prefixed)
            for doc in DOCS for line, command, prefixed in shown_commands(doc.read_text(encoding="utf-8"))]


def test_every_recipe_the_cli_registers_has_a_section_in_docs_recipes():
    documented = set(re.findall(r"^### `([^`]+)`$", RECIPES_DOC.read_text(encoding="utf-8"), re.M))
    recipes = set(builtin_recipes())
    assert recipes - documented == set(), "recipes without a '### `name`' section in docs/recipes.md"
    assert documented - recipes == set(), "sections of docs/recipes.md that name no recipe"


def test_every_recipe_has_a_row_in_the_readme_table():
    rows = set(re.findall(r"^\| \[`([^`]+)`\]", (ROOT / "README.md").read_text(encoding="utf-8"), re.M))
    assert rows == set(builtin_recipes())


def test_every_command_shown_names_a_recipe_and_flags_it_accepts(commands):
    shown = all_shown()
    assert len([s for s in shown if s[2]]) > 80  # the parser still finds the docs' commands
    wrong = [p for location, command, prefixed in shown for p in problems(location, command, prefixed, commands)]
    assert wrong == []


def test_a_flag_no_recipe_has_is_caught(commands):
    text = ("```bash\nvnerteach ner.teach news blank:en news.jsonl --label ORG \\\n  --no-such-flag  # a comment\n```\n"
            "Then `vnerteach db-out news --histroy`, `vnerteach ner.tech news`, `predict -z` and `ner.batch-train -o m`.\n")
    found = [p for line, command, prefixed in shown_commands(text) for p in problems(f"x:{line}", command, prefixed, commands)]
    assert [p.split(": ", 1)[0] for p in found] == ["x:2", "x:5", "x:5", "x:5"]
    assert "ner.teach has no flag --no-such-flag" in found[0] and "--histroy" in found[1]
    assert "no recipe named 'ner.tech'" in found[2] and "predict has no flag -z" in found[3]


def github_anchors(text: str) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings (code blocks left out)."""
    anchors, counts = set(), {}
    for line in FENCE.sub("", text).split("\n"):
        if heading := re.match(r"#{1,6} (.*)", line):
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            anchors.add(f"{slug}-{counts[slug]}" if slug in counts else slug)
            counts[slug] = counts.get(slug, 0) + 1
    return anchors


def test_every_relative_link_reaches_a_file_and_its_heading():
    broken = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for link in LINK.finditer(FENCE.sub("", text)):
            target = link.group(1)
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (doc.parent / path).resolve() if path else doc
            if not file.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target}: no such file")
            elif anchor and file.suffix == ".md" and anchor not in github_anchors(file.read_text(encoding="utf-8")):
                broken.append(f"{doc.relative_to(ROOT)}: {target}: no such heading")
    assert broken == []
