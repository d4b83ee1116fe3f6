"""Documents: a page of an image or PDF becomes words with boxes (text layer or OCR), cached.

    for page in iter_pages("scan.pdf", DocumentOptions(preprocess="grayscale,deskew")):
        task = page_task(page)          # {"text", "tokens": [... "bbox"], "width", "height", "image", "meta"}
        png = page_image(page)          # the exact image the boxes refer to
"""

from .cache import PageCache, PageImageNotFound, default_cache_dir
from .detect import SUFFIXES, file_kind, is_document
from .ocr import check_tesseract, tesseract_version
from .options import OCR_MODES, DocumentOptions
from .pages import iter_documents, iter_pages
from .preprocess import STEPS, parse_preprocess
from .region import ocr_region
from .page_images import document_page, page_image
from .results import PageFailure, PageResult, Word
from .task import page_task

__all__ = [
    "OCR_MODES", "STEPS", "SUFFIXES", "DocumentOptions", "PageCache", "PageFailure", "PageImageNotFound",
    "PageResult", "Word", "check_tesseract", "default_cache_dir", "file_kind", "is_document", "iter_documents",
    "iter_pages", "document_page", "ocr_region", "page_image", "page_task", "parse_preprocess", "tesseract_version",
]
