"""Typed errors: the library raises these, and only the CLI turns them into a message and an exit code."""

from __future__ import annotations

from pathlib import Path


class VnerteachError(Exception):
    """A problem the user can fix; its message is shown as is, without a traceback."""

    exit_code = 1


class UsageError(VnerteachError):
    """A flag or argument that makes no sense (exit code 2, like click's usage errors)."""

    exit_code = 2


class InputError(VnerteachError):
    """Bad input data, located by file and line (or page) so the user can find it."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None,
                 page: int | None = None):
        self.reason, self.path, self.line, self.page = message, path, line, page
        where = str(path) if path is not None else ""
        if line is not None:
            where += f":{line}"
        if page is not None:
            where += f" (page {page})"
        super().__init__(f"{where}: {message}" if where else message)


class DatasetNotFound(VnerteachError):
    """A dataset name that is not in the database; the message lists the ones that are."""

    def __init__(self, name: str, existing: list[str]):
        self.name, self.existing = name, existing
        known = ", ".join(existing) if existing else "none yet"
        super().__init__(f"Dataset '{name}' not found. Existing datasets: {known}")


class TaskError(InputError):
    """A task that breaks the format; the loader adds the file and line."""


class NoText(InputError):
    """A source with no text to learn from; ``failures`` are its files, lines or pages that could not be read."""

    def __init__(self, message: str, failures: list | None = None):
        self.failures = list(failures or [])
        super().__init__(message)


class AnswerError(VnerteachError):
    """A malformed answer (refused on its own) or request (nothing of it is stored)."""


class PageImageNotFound(InputError):
    """A page-image key that the cache does not know (never made, or made without the cache)."""


class StoreError(VnerteachError):
    """The database cannot be opened or used (path, permissions, URL)."""


class StoreBusy(StoreError):
    """Another process held the database's write lock for longer than the busy timeout; try again."""


class StoreUnreachable(StoreBusy):
    """The database server cannot be reached (restarting, network down); the next call connects again."""


class DatasetInUse(VnerteachError):
    """A dataset that a live annotation session (another process or server) serves already."""

    def __init__(self, dataset: str, address: str, pid: int, host: str):
        self.dataset, self.address, self.pid, self.host = dataset, address, pid, host
        super().__init__(f"Dataset '{dataset}' is already being annotated at {address} (process {pid} on {host}): "
                         "annotate there, or stop that session first")


class RecipeError(VnerteachError):
    """A recipe that cannot be found or loaded."""


class DependencyError(VnerteachError):
    """A required external program (e.g. Tesseract) is missing; the message says how to install it."""


class ModelLoadError(UsageError):
    """A MODEL argument that spaCy cannot load, or a pipeline without what the command needs from it."""

    def __init__(self, model: str, reason: str):
        self.model, self.reason = str(model), reason
        super().__init__(f"MODEL '{model}': {reason}")
