"""vnerteach: active-learning annotation of named entities in text, scanned images and PDFs."""

from .errors import VnerteachError
from .flags import Arg, Opt
from .registry import recipe
from .version import __version__

__all__ = ["Arg", "Opt", "VnerteachError", "recipe", "__version__"]
