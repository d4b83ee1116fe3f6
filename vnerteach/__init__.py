"""vnerteach: active-learning annotation of named entities in text, scanned images and PDFs."""

from .errors import VnerteachError
from .registry import Arg, Opt, recipe

__version__ = "0.1.0"
__all__ = ["Arg", "Opt", "VnerteachError", "recipe", "__version__"]
