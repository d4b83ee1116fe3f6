"""What a stream's reader is waiting on (e.g. a page's OCR): noted by the source, asked by the app's status line."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


class Activity:
    """The slow step a source is in right now, if it says: one per stream, which one thread reads at a time.

    The source notes it around the step (:meth:`waiting_on`); the controller asks :meth:`waiting`
    from a request's thread (the recipe hands it over as the components' ``waiting``).
    """

    def __init__(self) -> None:
        self._what: str | None = None

    @contextmanager
    def waiting_on(self, what: str) -> Iterator[None]:
        """Note that reading the stream waits on ``what`` while the block runs."""
        previous, self._what = self._what, what
        try:
            yield
        finally:
            self._what = previous

    def waiting(self) -> str | None:
        """What reading the stream waits on right now, if anything."""
        return self._what
