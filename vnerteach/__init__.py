"""vnerteach: active-learning annotation of named entities in text, scanned images and PDFs."""

from importlib.metadata import PackageNotFoundError, version

from .errors import VnerteachError
from .registry import Arg, Opt, recipe

try:
    __version__ = version("vnerteach")  # pyproject.toml's, the one place it is written
except PackageNotFoundError:  # a checkout on sys.path that was never installed
    __version__ = "0+unknown"
__all__ = ["Arg", "Opt", "VnerteachError", "recipe", "__version__"]
