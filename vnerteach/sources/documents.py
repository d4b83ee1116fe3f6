"""Document sources: image and PDF files, or a JSONL of their paths, become page tasks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..documents import PageFailure, check_tesseract, iter_documents, page_task, parse_preprocess
from ..errors import InputError

OnFailure = Callable[[PageFailure], None]


def _opt(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class DocumentOptions:
    """How pages are read. A recipe parameter of this type becomes these flags on the command line."""

    dpi: int = _opt(300, "Resolution PDF pages are rendered at for OCR and display")
    ocr: str = _opt("auto", "auto: OCR pages without a text layer; always; never")
    min_text: int = _opt(10, "A PDF page with fewer text-layer characters is OCR'd")
    preprocess: str = _opt("", "Image steps before OCR, from grayscale,upscale,deskew,denoise,binarize|adaptive")
    lang: str = _opt("eng", "Tesseract language(s), e.g. eng or eng+deu")
    password: str | None = _opt(None, "Password of encrypted PDFs")
    cache: bool = _opt(True, "Use the page cache under $VNERTEACH_HOME/cache")
    workers: int | None = _opt(None, "OCR worker processes (default: number of cores)")

    def check(self) -> None:
        """Fail before any work starts: a bad --preprocess step, or Tesseract missing when OCR may run."""
        parse_preprocess(self.preprocess)
        if self.ocr != "never":
            check_tesseract(self.lang)


def read_documents(paths: Iterable[Path], options: DocumentOptions,
                   on_failure: OnFailure | None = None) -> Iterator[dict]:
    """Page tasks of the documents, in order; a failed file or page goes to ``on_failure`` (or raises)."""
    for result in iter_documents(paths, **asdict(options)):
        if isinstance(result, PageFailure):
            if on_failure is None:
                raise InputError(result.error, result.path, page=result.page)
            on_failure(result)
        else:
            yield page_task(result)


def is_path_line(task: object) -> bool:
    """True for a JSONL line that names a document instead of holding a task: ``{"path": "scan.pdf"}``."""
    return isinstance(task, dict) and "path" in task and not {"text", "image", "tokens"} & task.keys()


def line_path(task: dict, jsonl: Path | str) -> Path:
    """The document path of a path line; a relative path is taken from the JSONL file's folder."""
    path = Path(task["path"]).expanduser()
    base = Path.cwd() if str(jsonl) == "-" else Path(jsonl).parent
    return path if path.is_absolute() else base / path
