"""The command line: a typer app built from the recipe registry; errors become one line and an exit code."""

from __future__ import annotations

import inspect
import os
import sys
from typing import Annotated, Any, Callable, get_args, get_origin, get_type_hints

import click
import typer
from rich.markup import escape
from typer.core import TyperGroup

from . import registry
from .errors import RecipeError, VnerteachError
from .output import fail, stderr, warn
from .registry import Arg, Opt
from .store import DB_ENV

class RecipeGroup(TyperGroup):
    """A command group whose unknown-command error suggests the closest recipe names."""

    def resolve_command(self, ctx: click.Context, args: list[str]):
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            try:
                registry.get_recipe(args[0])
            except RecipeError as err:
                ctx.fail(str(err))
        return super().resolve_command(ctx, args)


def _typer_param(param: inspect.Parameter, hint: Any) -> inspect.Parameter:
    """The typer parameter for one recipe parameter, from its ``Annotated[type, Arg|Opt]`` hint."""
    base, meta = hint, None
    if get_origin(hint) is Annotated:
        base, *extras = get_args(hint)
        meta = next((e for e in extras if isinstance(e, (Arg, Opt))), None)
    has_default = param.default is not inspect.Parameter.empty
    if isinstance(meta, Arg) or (meta is None and not has_default):
        info = typer.Argument(help=meta.help if meta else "")
    else:
        flag = "--" + param.name.replace("_", "-")
        flags = [f"{flag}/--no-{flag[2:]}" if base is bool and param.default is True else flag]
        if isinstance(meta, Opt) and meta.short:
            flags.append(meta.short)
        info = typer.Option(*flags, help=meta.help if meta else "")
    return param.replace(annotation=Annotated[base, info])


def _split_commas(values: list[str] | None) -> list[str] | None:
    """Let list options take comma-separated values too: ``--label A,B --label C``."""
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _is_list(hint: Any) -> bool:
    base = get_args(hint)[0] if get_origin(hint) is Annotated else hint
    return get_origin(base) is list or any(get_origin(a) is list for a in get_args(base))


def make_command(func: Callable) -> Callable:
    """A typer-ready wrapper of a recipe: its own parameters, plus ``--db``; user errors exit cleanly."""
    hints = get_type_hints(func, include_extras=True)
    signature = inspect.signature(func)
    params = [_typer_param(p, hints.get(p.name, str)) for p in signature.parameters.values()]
    lists = [p.name for p in params if _is_list(hints.get(p.name))]
    db_option = inspect.Parameter(
        "db", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[str | None, typer.Option("--db", help=f"Database path or URL (default: ${DB_ENV} or ~/.vnerteach/vnerteach.db)")])

    def command(**kwargs: Any) -> None:
        db = kwargs.pop("db")
        if db:
            os.environ[DB_ENV] = db
        try:
            for name in lists:
                kwargs[name] = _split_commas(kwargs[name])
            func(**kwargs)
        except VnerteachError as err:
            fail(str(err))
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
            stderr.print("Interrupted.")
            raise typer.Exit(130) from None

    command.__signature__ = inspect.Signature([*params, db_option])  # type: ignore[attr-defined]
    command.__name__ = func.__name__
    return command


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
        app.command(name=name, help=doc, short_help=doc.split("\n", 1)[0])(make_command(func))
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


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``vnerteach`` command."""
    files, args = _take_recipe_files(list(sys.argv[1:] if argv is None else argv))
    try:
        registry.load_builtin()
        for warning in registry.load_entry_points():
            warn(warning)
        for path in files:
            registry.load_file(path)
    except VnerteachError as err:
        fail(str(err))
        sys.exit(err.exit_code)
    build_app()(args=args, prog_name="vnerteach")
