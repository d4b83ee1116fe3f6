"""Built-in recipes and commands; importing this package registers them."""

from . import db, ocr, train  # noqa: F401
from . import manual  # noqa: F401
from . import teach  # noqa: F401
from . import predict  # noqa: F401
from . import pretrain  # noqa: F401
from . import review  # noqa: F401
