"""Files a user keeps (models, exports, OCR output): checked before the work starts, and written whole or not at all."""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Callable, Iterator

from .errors import InputError

MODEL_FILES = ("config.cfg", "meta.json")  # an existing folder with one of these is a model that may be replaced
LEFTOVER = re.compile(r"(tmp|old)-(\d+)-[0-9a-f]{8}")
_active: set[str] = set()  # temporary siblings this process is writing now (a killed run may have had our pid)


def check_output(path: str | Path, folder: bool = False, model: bool = False) -> Path:
    """The output path if it can be written: parent there, nothing else in the way, no model over a folder of other files."""
    path = Path(path)
    folder = folder or model
    if folder and path.exists() and not path.is_dir():
        raise InputError("exists and is not a folder", path)
    if not folder and path.is_dir():
        raise InputError("is a folder; give a file name", path)
    if not path.parent.is_dir():
        raise InputError(f"folder {path.parent} does not exist (create it first)", path)
    if model and path.is_dir() and any(path.iterdir()) and not any((path / f).exists() for f in MODEL_FILES):
        raise InputError("is a folder of other files, not a model; a model replaces its folder whole, "
                         "so give a new or empty folder", path)
    return path


@contextmanager
def atomic_file(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """A file (mode "w" for UTF-8 text, "wb") whose content replaces path, fsync'd, when the block ends without error."""
    path = _real(path)
    if path.exists() and not path.is_file():  # a device or pipe (/dev/stdout, a fifo): written as it is
        with open(path, mode, encoding=None if "b" in mode else "utf8") as f:
            yield f
        return
    tidy(path)
    tmp = _sibling(path, "tmp")
    try:
        with open(tmp, mode.replace("w", "x"), encoding=None if "b" in mode else "utf8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    finally:
        _active.discard(tmp.name)
    _fsync(path.parent)


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write a whole file at once, making its folder if needed; readers (other processes too) see it whole or not at all."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path, "wb") as f:
        f.write(data)


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """A temporary sibling folder to fill; when the block ends without error it is fsync'd and swapped in for path whole."""
    path = _real(path)
    tidy(path)
    tmp = _sibling(path, "tmp")
    try:
        os.mkdir(tmp)
        yield tmp
        _fsync_tree(tmp)
        _swap_in(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        _active.discard(tmp.name)
    _fsync(path.parent)


def tidy(path: str | Path) -> None:
    """Finish what killed writers left beside path: a folder put aside goes back if path is gone, the rest is removed."""
    path = Path(path)
    prefix = f".{path.name}."
    try:
        names = [n for n in os.listdir(path.parent) if n.startswith(prefix)]
    except OSError:
        return
    for name in sorted(names, key=lambda n: n.startswith(prefix + "tmp")):  # put-aside folders first
        found = LEFTOVER.fullmatch(name[len(prefix):])
        if not found or not _abandoned(name, int(found[2])):
            continue
        leftover = path.parent / name
        if found[1] == "old" and not os.path.lexists(path):
            os.rename(leftover, path)
        elif leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            _remove(leftover)


def _load_exchange() -> Callable[[Path, Path], None] | None:
    """renameat2(RENAME_EXCHANGE) from libc: swaps two paths in one step; None where the system has no such call."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError, TypeError):
        return None
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2

    def exchange(a: Path, b: Path) -> None:
        if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), str(a), None, str(b))

    return exchange


_exchange = _load_exchange()


def _swap_in(new: Path, path: Path) -> None:
    """Put folder new at path by one atomic exchange, so path is always a whole folder; without one, two renames and tidy()."""
    if not os.path.lexists(path):
        os.rename(new, path)
        return
    if _exchange is not None:
        try:
            _exchange(new, path)
        except OSError as err:
            if err.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
                raise
        else:
            shutil.rmtree(new)  # the old folder, now under the temporary name
            return
    aside = _sibling(path, "old")
    os.rename(path, aside)  # a kill from here to the next rename leaves no path: the next tidy() puts it back
    try:
        os.rename(new, path)
    except BaseException:
        os.rename(aside, path)
        raise
    finally:
        _active.discard(aside.name)
    shutil.rmtree(aside)


def _real(path: str | Path) -> Path:
    """The path with symlinks resolved, so a write through a link replaces what it points to, as open() would."""
    return Path(os.path.realpath(path))


def _sibling(path: Path, kind: str) -> Path:
    """A new temporary name beside path, marked as this process's until the write is done."""
    name = f".{path.name}.{kind}-{os.getpid()}-{os.urandom(4).hex()}"
    _active.add(name)
    return path.with_name(name)


def _abandoned(name: str, pid: int) -> bool:
    """Whether the writer of a temporary sibling is gone."""
    if pid == os.getpid():
        return name not in _active
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _fsync(path: str | Path) -> None:
    """Flush a file or folder (its entries: renames and new names) to disk."""
    fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if os.path.isdir(path) else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    """Flush every file and folder under folder to disk."""
    for root, _, names in os.walk(folder):
        for name in names:
            _fsync(os.path.join(root, name))
        _fsync(root)


def _remove(path: Path) -> None:
    """Remove a file if it is there."""
    try:
        os.unlink(path)
    except OSError:
        pass
