"""How a recipe's parameters become command-line flags: help for arguments and options, fields of options dataclasses.

The lowest layer: recipes and options dataclasses anywhere in the package (``DocumentOptions``) use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Arg:
    """A positional argument's help, for ``Annotated[type, Arg("...")]`` in a recipe's signature."""

    help: str


@dataclass(frozen=True)
class Opt:
    """An option's help and optional short flag, for ``Annotated[type, Opt("...", "-x")]``."""

    help: str
    short: str | None = None


def option(default: Any, help: str, short: str | None = None) -> Any:
    """A field of an options dataclass with its flag's help: a recipe parameter of that type gets one flag per field."""
    return field(default=default, metadata={"help": help, "short": short})
