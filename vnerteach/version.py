"""The installed version, read once from the package metadata (pyproject.toml's, the one place it is written)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vnerteach")
except PackageNotFoundError:  # a checkout on sys.path that was never installed
    __version__ = "0+unknown"
