"""Page images: make the exact image a page's boxes refer to, store it as PNG, find it again by key."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..errors import InputError
from ..errors import PageImageNotFound
from ..files import write_atomic
from . import preprocess as pre
from .cache import PageCache, check_key
from .results import PageResult
from .upright import turn


@dataclass(frozen=True)
class Source:
    """Where a page comes from and how its image is made (the password is never stored)."""

    path: str
    kind: str
    index: int
    pages: int
    sha256: str
    dpi: int | None
    preprocess: tuple[str, ...] = ()
    password: str | None = None
    rotate: int | str | None = None  # None: as it is; "auto": turned upright as detected; 0-270: as an annotator chose

    @property
    def page(self) -> int:
        """The 1-based page number."""
        return self.index + 1

    def manifest(self, **made) -> dict:
        """What the cache keeps to re-make this page image later, plus facts about the image made."""
        fields = asdict(self)
        del fields["password"]
        fields["preprocess"] = list(self.preprocess)
        return dict(fields, **made)


@dataclass
class Made:
    """Facts about a page image that was made: size, effective dpi, skew corrected, scale applied."""

    width: int
    height: int
    image_dpi: float | None
    skew: float = 0.0
    scale: float = 1.0
    rotation: int = 0
    rotation_source: str | None = None

    @classmethod
    def of(cls, manifest: dict) -> Made:
        """The facts a page image's manifest records."""
        return cls(manifest["width"], manifest["height"], manifest["image_dpi"], manifest["skew"], manifest["scale"],
                   manifest.get("rotation", 0), manifest.get("rotation_source"))


def load_page(src: Source):
    """The page's image before preprocessing (rendered at dpi for a PDF) and its dpi (None if unknown)."""
    from .pdf import open_pdf, pixel_size, render
    from .raster import check_pixels, load_frame

    path = Path(src.path)
    if src.kind != "pdf":
        return load_frame(path, src.index)
    doc = open_pdf(path, src.password)
    try:
        page = doc.load_page(src.index)
        check_pixels(*pixel_size(page, src.dpi), path, src.page)
        return render(page, src.dpi), float(src.dpi)
    finally:
        doc.close()


def make_png(src: Source, dest: Path, found: tuple[int, str | None] | None = None) -> Made:
    """Make the page image of src and write it to dest as PNG (atomically).

    A page turned upright as detected (rotate "auto") is turned by ``found`` (rotation, source), the
    turn its manifest recorded; without one it is made as it is (make_upright_png finds the turn).
    """
    from .cache import save_png_atomic

    copied = _copy_if_plain_png(src, dest)
    if copied is not None:
        return copied
    image, dpi = load_page(src)
    if isinstance(src.rotate, int):
        rotation, source = src.rotate, "annotator"
    else:
        rotation, source = found or (0, None)
    made, skew, scale = prepare(src)(turn(image, rotation))
    save_png_atomic(made, dest)
    eff = round(dpi * scale, 2) if dpi else None
    return Made(made.width, made.height, eff, skew, scale, rotation, source if src.rotate is not None else None)


def prepare(src: Source):
    """How a (turned) page image of src becomes the image to read: its preprocessing steps. A small skew is not
    straightened unless ``deskew`` is asked for (on receipts it cost confidence: bench/RESULTS.md, issue 22).
    Returns a function of the image giving (image, skew corrected, scale)."""
    def run(image):
        done = pre.apply(image, src.preprocess)
        return done.image, done.skew, done.scale

    return run


def make_upright_png(src: Source, dest: Path | None, read) -> tuple[Made, list]:
    """Make the page image of src turned upright as its reading says (upright.read_upright), write it to dest as
    PNG (unless None); the Made (with the rotation and how it was chosen) and the words read from it."""
    from .cache import save_png_atomic
    from .upright import read_upright

    image, dpi = load_page(src)
    found = read_upright(image, prepare(src), read)
    copied = None
    if dest is not None and found.rotation == 0 and not found.skew:  # read as it is: a plain PNG stays its bytes
        copied = _copy_if_plain_png(replace(src, rotate=None), dest)
    if copied is not None:
        return replace(copied, rotation=0, rotation_source=found.source), found.words
    if dest is not None:
        save_png_atomic(found.image, dest)
    eff = round(dpi * found.scale, 2) if dpi else None
    return Made(found.image.width, found.image.height, eff, found.skew, found.scale, found.rotation,
                found.source), found.words


def _copy_if_plain_png(src: Source, dest: Path) -> Made | None:
    """A single-page L or RGB PNG with no preprocessing nor turn is its own page image: copy the bytes."""
    if src.kind != "png" or src.preprocess or src.pages != 1 or src.rotate is not None:
        return None
    from .raster import image_dpi, open_image

    with open_image(Path(src.path)) as image:
        if image.mode not in ("L", "RGB"):
            return None
        made = Made(image.width, image.height, image_dpi(image))
    write_atomic(dest, Path(src.path).read_bytes())  # a fresh temporary file: never written through a link
    return made


def page_image(result_or_key: PageResult | str, *, cache_dir: str | Path, password: str | None = None) -> Path:
    """The PNG file of a page image (by PageResult or image key), made and cached if missing."""
    import json

    from .detect import file_sha256

    cache = PageCache(cache_dir)
    if isinstance(result_or_key, PageResult):
        r = result_or_key
        key = check_key(r.image_key)
        rotate = None if r.rotation_source is None else r.rotation if r.rotation_source == "annotator" else "auto"
        src = Source(str(Path(r.path).resolve()), r.kind, r.page - 1, r.pages, r.sha256, r.render_dpi,
                     tuple(r.preprocess), password, rotate)
        found = (r.rotation, r.rotation_source)
    else:
        key = check_key(result_or_key)
        manifest = cache.read_manifest(key)
        if manifest is None:
            if cache.cached_image(key) is not None:
                return cache.image_path(key)
            raise PageImageNotFound(f"no page image with key {key} in the cache ({cache.root})")
        src = _source(manifest, password)
        found = (manifest.get("rotation", 0), manifest.get("rotation_source"))
    png = cache.image_path(key)
    if cache.cached_image(key) is not None:
        return png
    if not Path(src.path).exists():
        raise InputError("the page's file is gone; cannot make its image", src.path, page=src.page)
    if file_sha256(Path(src.path)) != src.sha256:
        raise InputError("the file has changed since its pages were read; read it again", src.path,
                         page=src.page)
    made = make_png(src, png, found)
    write_atomic(cache.manifest_path(key), json.dumps(src.manifest(**made.__dict__), sort_keys=True).encode())
    return png


def _source(manifest: dict, password: str | None = None, **changes) -> Source:
    """The Source a page image's manifest records (with changes)."""
    fields = dict(path=manifest["path"], kind=manifest["kind"], index=manifest["index"], pages=manifest["pages"],
                  sha256=manifest["sha256"], dpi=manifest["dpi"], preprocess=tuple(manifest["preprocess"]),
                  password=password, rotate=manifest.get("rotate"))
    fields.update(changes)
    return Source(**fields)


def document_page(key: str, page: int, *, cache_dir: str | Path, password: str | None = None) -> dict:
    """Another page of the document of the page image ``key``, made as that one was: {image_key, page, pages, width,
    height}, to look at (its words are read when the page itself is asked). InputError for a page out of range."""
    import json

    from .cache import image_key

    cache = PageCache(cache_dir)
    manifest = cache.read_manifest(check_key(key))
    if manifest is None:
        raise PageImageNotFound(f"no page image with key {key} in the cache ({cache.root})")
    if type(page) is not int or not 1 <= page <= manifest["pages"]:
        raise InputError(f"no page {page!r}: the document has pages 1 to {manifest['pages']}", manifest["path"])
    other = image_key(manifest["sha256"], page, manifest["dpi"], tuple(manifest["preprocess"]))
    if manifest.get("rotate") is not None:  # that page turned upright, if it has been read; else as it is
        upright = image_key(manifest["sha256"], page, manifest["dpi"], tuple(manifest["preprocess"]), "auto")
        if cache.read_manifest(upright) is not None and cache.cached_image(upright) is not None:
            other = upright
    if cache.read_manifest(other) is None:
        src = Source(manifest["path"], manifest["kind"], page - 1, manifest["pages"], manifest["sha256"],
                     manifest["dpi"], tuple(manifest["preprocess"]), password)
        made = make_png(src, cache.image_path(other))
        write_atomic(cache.manifest_path(other), json.dumps(src.manifest(**made.__dict__), sort_keys=True).encode())
    info = cache.read_manifest(other) or {}
    return {"image_key": other, "page": page, "pages": manifest["pages"], "width": info.get("width"),
            "height": info.get("height")}


@dataclass(frozen=True)
class PageImages:
    """The page images of one cache folder, for the server: by key, and other pages of the same document."""

    cache_dir: Path
    password: str | None = None  # of encrypted PDFs, to make an image the cache no longer holds

    def __call__(self, key: str) -> Path:
        """The PNG file of the page image ``key``, made and cached if missing."""
        return page_image(key, cache_dir=self.cache_dir, password=self.password)

    def other_page(self, key: str, page: int) -> dict:
        """Another page of the document of the page image ``key`` (see document_page)."""
        return document_page(key, page, cache_dir=self.cache_dir, password=self.password)
