"""Documents: a page of an image or PDF becomes words with boxes (text layer or OCR), cached.

    for page in iter_pages("scan.pdf", DocumentOptions(preprocess="grayscale,deskew", cache_dir="cache")):
        task = page_task(page)          # {"text", "tokens": [... "bbox"], "width", "height", "image", "meta"}
        png = page_image(page, cache_dir="cache")  # the exact image the boxes refer to
"""

from .cache import PageCache, PageImageNotFound
from .detect import SUFFIXES, file_kind, is_document
from .ocr import check_tesseract, tesseract_version
from .options import OCR_MODES, DocumentOptions
from .page_images import PageImages, document_page, page_image
from .pages import iter_documents, iter_pages
from .preprocess import STEPS, parse_preprocess
from .region import ocr_region
from .results import PageFailure, PageResult, Word
from .task import page_task

__all__ = [
    "OCR_MODES", "STEPS", "SUFFIXES", "DocumentOptions", "PageCache", "PageFailure", "PageImageNotFound",
    "PageImages", "PageResult", "Word", "check_tesseract", "file_kind", "is_document", "iter_documents",
    "iter_pages", "document_page", "ocr_region", "page_image", "page_task", "parse_preprocess", "tesseract_version",
]
