"""The command line: a typer app built from the recipe registry; errors become one line and an exit code."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import io
import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Callable, get_args, get_origin, get_type_hints

import click
import typer
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from . import registry
from .errors import RecipeError, UsageError, VnerteachError
from .flags import Arg, Opt
from .loop.components import Components
from .loop.feed import IDLE_S
from .output import fail, good, plural, stderr, warn
from .paths import DB_ENV, default_db, home, page_cache_dir

TOKEN_ENV = "VNERTEACH_ACCESS_TOKEN"
DB_PARAM = "db"  # a recipe that declares it gets the --db database (path or URL), default applied
PAGE_CACHE_PARAM = "page_cache"  # a recipe that declares it gets the --cache-dir page cache folder, default applied
CACHE_FIELD = "cache_dir"  # an options group with this field (DocumentOptions) gets the page cache folder if unset
CACHE_HELP = "Folder of the page cache (default: cache in $VNERTEACH_HOME)"
BUILTIN_RECIPES = "vnerteach.recipes"

class RecipeCommand(TyperCommand):
    """A recipe's command: its --help, a flag like the others, shows no value type."""

    def get_help_option(self, ctx: click.Context):
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


class RecipeGroup(TyperGroup):
    """A command group whose unknown-command error suggests the closest recipe names."""

    def resolve_command(self, ctx: click.Context, args: list[str]):
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            try:
                registry.get_recipe(args[0])
            except RecipeError as err:
                ctx.fail(str(err))
        return super().resolve_command(ctx, args)


SERVER_DEFAULTS = {"host": None, "port": None, "access_token": None, "feed_overlap": False, "idle_timeout": IDLE_S,
                   "label_colors": None, "instructions": None}
MAX_INSTRUCTIONS = 200_000  # characters of --instructions shown in the app
HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")

def _typer_param(param: inspect.Parameter, hint: Any) -> inspect.Parameter:
    """The typer parameter for one recipe parameter, from its ``Annotated[type, Arg|Opt]`` hint."""
    base, meta = hint, None
    if get_origin(hint) is Annotated:
        base, *extras = get_args(hint)
        meta = next((e for e in extras if isinstance(e, (Arg, Opt))), None)
    has_default = param.default is not inspect.Parameter.empty
    if isinstance(meta, Arg) or (meta is None and not has_default):
        info = typer.Argument(help=escape(meta.help) if meta else "")
    else:
        flag = "--" + param.name.replace("_", "-")
        tri_state = base == (bool | None) and param.default is None  # --x/--no-x, or neither: None
        flags = [f"{flag}/--no-{flag[2:]}" if (base is bool and param.default is True) or tri_state else flag]
        if isinstance(meta, Opt) and meta.short:
            flags.append(meta.short)
        info = typer.Option(*flags, help=escape(meta.help) if meta else "", **_no_value(bool if tri_state else base))
    return param.replace(annotation=Annotated[base, info])


def _no_value(annotation: Any) -> dict:
    """A flag (--x, --x/--no-x) takes no value: no type shown after it in --help."""
    return {"metavar": ""} if annotation is bool else {}


def _split_commas(values: list[str] | None) -> list[str] | None:
    """Let list options take comma-separated values too: ``--label A,B --label C``."""
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _is_list(hint: Any) -> bool:
    base = get_args(hint)[0] if get_origin(hint) is Annotated else hint
    return get_origin(base) is list or any(get_origin(a) is list for a in get_args(base))


def _expand_options(param: inspect.Parameter, hint: Any) -> list[inspect.Parameter] | None:
    """A dataclass-typed recipe parameter (e.g. DocumentOptions) as one option per field."""
    base = get_args(hint)[0] if get_origin(hint) is Annotated else hint
    if not dataclasses.is_dataclass(base):
        return None
    hints = get_type_hints(base)
    return [_typer_param(inspect.Parameter(f.name, param.kind, default=f.default),
                         Annotated[hints[f.name], Opt(f.metadata.get("help", ""), f.metadata.get("short"))])
            for f in dataclasses.fields(base)]


def _missing_model_or_source(model: str) -> str:
    """Which of MODEL and SOURCE was left out, when only one was given (it landed in MODEL)."""
    given = Path(model)
    looks_like_source = model == "-" or (given.is_file() and given.suffix.lower() != ".json") or \
        (given.is_dir() and not (given / "meta.json").exists())
    if looks_like_source and not model.startswith("blank:"):
        return (f"Missing argument 'MODEL': '{model}' is the source; give the model before it, e.g. "
                f"blank:en or a folder written by ner.batch-train (DATASET MODEL SOURCE)")
    return "Missing argument 'SOURCE': the JSONL or text file, image, PDF or folder to annotate (DATASET MODEL SOURCE)"


def make_command(func: Callable) -> Callable:
    """A typer-ready wrapper of a recipe: its own parameters, plus ``--db`` (and ``--cache-dir`` for ``page_cache``);
    the page cache folder filled in; user errors exit cleanly."""
    hints = get_type_hints(func, include_extras=True)
    signature = inspect.signature(func)
    params, groups = [], {}
    wants_db = DB_PARAM in signature.parameters
    wants_cache = PAGE_CACHE_PARAM in signature.parameters
    for p in signature.parameters.values():
        if p.name in (DB_PARAM, PAGE_CACHE_PARAM):
            continue
        expanded = _expand_options(p, hints.get(p.name, str))
        if expanded is None:
            params.append(_typer_param(p, hints.get(p.name, str)))
        else:
            groups[p.name] = (hints[p.name], [e.name for e in expanded])
            params.extend(expanded)
    lists = [p.name for p in params if _is_list(p.annotation)]
    names = [p.name for p in params]
    # MODEL then SOURCE, both required: with one of them left out, click blames SOURCE whichever it was.
    model_source = "model" in names and "source" in names and names.index("model") < names.index("source") \
        and params[names.index("source")].default is inspect.Parameter.empty
    if model_source:  # optional to click, so that the command can say which one is missing; shown as required
        source = params[names.index("source")]
        _base, info = get_args(source.annotation)
        info.metavar, info.help = "{source}", f"{info.help} {escape('[required]')}"
        params[names.index("source")] = source.replace(default=None)
    db_option = inspect.Parameter(
        "db", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[str | None, typer.Option("--db", help=f"Database path or URL (default: ${DB_ENV} or "
                                                                   f"{home() / 'vnerteach.db'})")])
    cache_option = [_cache_option()] if wants_cache else []
    serves = registry.serves(func)
    server_options = _server_options() if serves else []

    def command(**kwargs: Any) -> None:
        db = kwargs.pop(DB_PARAM)
        server = {p.name: kwargs.pop(p.name) for p in server_options}
        try:
            if server:  # before the recipe loads its model
                parse_label_colors(server["label_colors"])
                read_instructions(server["instructions"])
            for name in lists:
                if any(not value.strip() for value in kwargs[name] or []):
                    raise UsageError(f"--{name.replace('_', '-')}: an empty value")
                kwargs[name] = _split_commas(kwargs[name])
            for name, (cls, fields) in groups.items():
                values = {f: kwargs.pop(f) for f in fields}
                if CACHE_FIELD in values and values[CACHE_FIELD] is None:
                    values[CACHE_FIELD] = str(page_cache_dir())
                kwargs[name] = cls(**values)
            if model_source and kwargs.get("source") is None:
                raise UsageError(_missing_model_or_source(kwargs["model"]))
            if wants_db:
                db = kwargs[DB_PARAM] = db or default_db()
            if wants_cache:
                kwargs[PAGE_CACHE_PARAM] = (kwargs[PAGE_CACHE_PARAM] or page_cache_dir()).expanduser().resolve()
            components = func(**kwargs)
            if serves and components is not None:  # None: nothing to annotate this time (e.g. review)
                _serve(components, db or default_db(), **{**SERVER_DEFAULTS, **server})
            elif isinstance(components, dict) and "stream" in components:
                raise RecipeError(f"{func.__name__} returned components to annotate, but only a recipe annotated "
                                  "'-> Components' (from vnerteach.loop.components) opens the web app")
        except VnerteachError as err:
            fail(str(err))
            raise typer.Exit(err.exit_code) from None
        except OSError as err:  # the system's refusal (disk full, permissions): not a bug, so no traceback
            fail(f"{err.filename}: {err.strerror}" if err.filename else f"Writing the output failed: {err.strerror}")
            _detach_stdout()
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            stderr.print("Interrupted.")
            raise typer.Exit(130) from None

    command.__signature__ = inspect.Signature([*params, *cache_option, *server_options, db_option])  # type: ignore[attr-defined]
    command.__name__ = func.__name__
    return command


def _detach_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush of a failed stream does not fail again."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


def _cache_option() -> inspect.Parameter:
    """--cache-dir for a recipe that declares ``page_cache``: one without DocumentOptions that still shows pages."""
    return inspect.Parameter(PAGE_CACHE_PARAM, inspect.Parameter.KEYWORD_ONLY, default=None,
                             annotation=Annotated[Path | None, typer.Option("--cache-dir", help=CACHE_HELP)])


def _server_options() -> list[inspect.Parameter]:
    """--host, --port, --access-token and how tasks go to several annotators, added to every recipe that serves."""
    def option(name: str, annotation: Any, *flags: str, help: str) -> inspect.Parameter:
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=SERVER_DEFAULTS[name],
                                 annotation=Annotated[annotation, typer.Option(*flags, help=help, **_no_value(annotation))])

    return [
        option("host", str | None, "--host", help="Address to listen on (default: 127.0.0.1, this machine only)"),
        option("port", int | None, "--port", help="Port to listen on (default: 8080, or the next free one)"),
        option("access_token", str | None, "--access-token",
               help=f"Token every API call must carry (required with a --host other than loopback; "
                    f"default: ${TOKEN_ENV})"),
        option("feed_overlap", bool, "--feed-overlap",
               help="Named annotators (/?session=alice) each see every task; without it, each task goes to one"),
        option("idle_timeout", float, "--idle-timeout",
               help="Seconds without a question or answer after which an annotator's unanswered tasks go to others"),
        option("instructions", Path | None, "--instructions",
               help="A text file of annotation guidelines, shown in the app (key i)"),
        option("label_colors", str | None, "--label-colors",
               help="Colours of labels in the app, e.g. QUESTION=#9fc5e8,ANSWER=#f27c7c (others: distinct ones "
                    "chosen for the label set)"),
    ]


def parse_label_colors(value: str | None) -> dict[str, str]:
    """--label-colors LABEL=#RRGGBB,... as a dict; UsageError naming a bad pair."""
    out = {}
    for pair in _split_commas([value] if value else []) or []:
        label, _, colour = pair.partition("=")
        if not label.strip() or not HEX_COLOUR.fullmatch(colour.strip()):
            raise UsageError(f"--label-colors: {pair!r} is not LABEL=#RRGGBB (e.g. ORG=#f4c430)")
        out[label.strip()] = colour.strip().lower()
    return out


def read_instructions(path: Path | None) -> str | None:
    """The text of --instructions; UsageError naming the file when it cannot be read as UTF-8 text."""
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
        raise UsageError(f"--instructions {path}: {reason}") from None
    if len(text) > MAX_INSTRUCTIONS:
        raise UsageError(f"--instructions {path}: {len(text):,} characters, more than {MAX_INSTRUCTIONS:,} to show")
    return text


def _serve(components: Components, db: str, host: str | None, port: int | None, access_token: str | None,
           feed_overlap: bool, idle_timeout: float, label_colors: str | None, instructions: Path | None) -> None:
    """Run the annotation server for a recipe's components and report what was saved."""
    from .web.server import serve
    from .web.wsgi_server import DEFAULT_HOST

    config = dict(components.get("config") or {})
    if chosen := parse_label_colors(label_colors):
        config["label_colors"] = chosen
    if (text := read_instructions(instructions)) is not None:
        config["instructions"] = text
    components = {**components, "config": config}

    def ready(url: str, notes: list[str]) -> None:
        for note in notes:
            warn(note)
        good(f"Annotating '{components.get('dataset')}' at {url}  (Ctrl+C to stop)")

    if not idle_timeout > 0:  # nan too
        raise UsageError(f"--idle-timeout: expected a number of seconds above 0, not {idle_timeout:g}")
    summary = serve(components, db, host or DEFAULT_HOST, port, access_token or os.environ.get(TOKEN_ENV) or None,
                    overlap=feed_overlap, idle_s=idle_timeout, on_ready=ready)
    for problem in summary.update_errors[:3]:
        warn(f"Model update failed: {problem}")
    if summary.failed:
        warn(f"Skipped {plural(summary.failed, 'bad task')} (each named above)")
    if summary.error:
        fail(f"The source stopped early: {summary.error}")
    written = summary.sessions or {summary.session: summary.answered}
    where = (f"in session '{next(iter(written))}'" if len(written) == 1 else
             "in sessions " + ", ".join(f"'{name}' ({count})" for name, count in written.items()))
    good(f"Saved {plural(sum(written.values()), 'answer')} {where}; "
         f"dataset '{summary.dataset}' now has {plural(summary.dataset_size, 'example')}")


def _help_text(func: Callable) -> str:
    """A recipe's docstring as help: paragraphs unwrapped, so the terminal can wrap them."""
    paragraphs = inspect.cleandoc(func.__doc__ or "").split("\n\n")
    return escape("\n\n".join(" ".join(p.split("\n")) for p in paragraphs))


def build_app() -> typer.Typer:
    """The typer app with one command per registered recipe."""
    app = typer.Typer(cls=RecipeGroup, name="vnerteach", no_args_is_help=True, add_completion=False,
                      rich_markup_mode="rich", pretty_exceptions_enable=False,
                      help="Active-learning annotation of named entities in text, images and PDFs.\n\n"
                           "Load your own recipes with -F FILE.py (before or after the recipe name).")
    for name, func in registry.recipes().items():
        doc = _help_text(func)
        app.command(name=name, help=doc, short_help=doc.split("\n", 1)[0], cls=RecipeCommand)(make_command(func))
    return app


def _take_recipe_files(argv: list[str]) -> tuple[list[str], list[str]]:
    """Split ``-F FILE`` pairs out of the arguments: (files, remaining arguments)."""
    files, rest, it = [], [], iter(argv)
    for arg in it:
        if arg == "-F":
            files.append(next(it, ""))
        elif arg.startswith("-F") and len(arg) > 2:
            files.append(arg[2:].lstrip("="))
        else:
            rest.append(arg)
    return files, rest


def load_builtin() -> None:
    """Import the built-in recipes (each module registers its own)."""
    importlib.import_module(BUILTIN_RECIPES)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``vnerteach`` command."""
    files, args = _take_recipe_files(list(sys.argv[1:] if argv is None else argv))
    try:
        load_builtin()
        for warning in registry.load_entry_points():
            warn(warning)
        for path in files:
            registry.load_file(path)
    except VnerteachError as err:
        fail(str(err))
        sys.exit(err.exit_code)
    build_app()(args=args, prog_name="vnerteach")
