"""Built-in recipes and commands; importing this package registers them."""

from . import db, manual, ocr  # noqa: F401
