"""The recipe registry: ``@recipe(name)``, lookup, ``-F FILE.py`` and the entry-point group."""

from __future__ import annotations

import difflib
import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable, TypeVar, get_type_hints

from .errors import RecipeError
from .loop.components import Components

ENTRY_POINT_GROUP = "vnerteach_recipes"
F = TypeVar("F", bound=Callable)

_recipes: dict[str, Callable] = {}


def recipe(name: str) -> Callable[[F], F]:
    """Register a function as the recipe ``name``; the function is returned unchanged."""

    def register(func: F) -> F:
        _recipes[name] = func
        return func

    return register


def serves(func: Callable) -> bool:
    """Whether a recipe opens the web app: its return annotation is ``Components`` (it then gets the server options)."""
    return get_type_hints(func).get("return") is Components


def get_recipe(name: str) -> Callable:
    """The recipe called ``name``; RecipeError suggests the closest names."""
    if name not in _recipes:
        close = difflib.get_close_matches(name, _recipes, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else " Run 'vnerteach --help' for the list."
        raise RecipeError(f"No recipe named '{name}'.{hint}")
    return _recipes[name]


def recipes() -> dict[str, Callable]:
    """All registered recipes by name, sorted."""
    return dict(sorted(_recipes.items()))


def load_file(path: str | Path) -> None:
    """Import a user's Python file so that its ``@recipe`` functions register (``-F``)."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"-F {path}: no such file")
    spec = importlib.util.spec_from_file_location(f"vnerteach_user_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise RecipeError(f"-F {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # user code: any error is reported as theirs, not ours
        raise RecipeError(f"-F {path}: failed to load: {type(err).__name__}: {err}") from None


def load_entry_points() -> list[str]:
    """Load recipes that installed packages declare; return a warning per plugin that failed."""
    warnings = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = ep.load()
        except Exception as err:  # a broken plugin must not break the other recipes
            warnings.append(f"Recipe plugin '{ep.name}' ({ep.value}) failed to load: {err}")
            continue
        if callable(loaded) and ep.name not in _recipes:
            _recipes[ep.name] = loaded
    return warnings
