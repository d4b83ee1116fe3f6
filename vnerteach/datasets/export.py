"""Exports of a dataset: JSONL, spaCy DocBin, CoNLL (IOB), entity boxes, drawn and redacted pages.

``EXPORTERS`` maps each output mode of ``db-out`` to its exporter. Every mode but JSONL exports
the merged answers (see ``examples``): one record per input.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from ..documents.identity import document_of
from ..errors import InputError, UsageError, VnerteachError
from ..files import atomic_file, check_output, write_atomic
from ..nlp.merge import Merged, MergeResult, merge_answers, reference_doc
from ..tasks import INPUT_HASH, input_hash
from ..tasks.corrections import OCR_TEXT, ocr_text

MISSING_TAG = "-"
# The web app's label colours (static/util.js labelColor): one rule, so a label looks the same everywhere.
PALETTE = ("#9fc5e8", "#f59b42", "#b48ee6", "#f4c430", "#c97c5d", "#5fa8e8", "#f27c7c", "#b9bf3f", "#6cc26c",
           "#7dd8a5", "#d2a36c", "#3fbfb0", "#e3d34a", "#8e9fd1", "#9cc79c", "#a3aab8", "#ea8bd1")
TAG_TEXT = "#1b1e27"  # the app's label tag text


def merged_dataset(store: Any, dataset: str, labels: Sequence[str] | None = None, lang: str = "en",
                   strict: bool = False) -> MergeResult:
    """Every answer of a dataset merged per input (tasks without tokens tokenized with blank ``lang``)."""
    import spacy

    store.get_dataset(dataset)
    return merge_answers({dataset: store.iter_examples(dataset)}, labels, tokenizer_nlp=spacy.blank(lang),
                         strict=strict)


def docbin(vocab: Any, merged: Iterable[Merged], partial: bool = False) -> tuple[Any, int]:
    """A DocBin of the gold docs (boxes kept in user_data): complete inputs only unless ``partial``; and the number skipped."""
    from spacy.tokens import DocBin

    out, skipped = DocBin(store_user_data=True), 0
    for m in merged:
        if m.complete or partial:
            out.add(reference_doc(vocab, m))
        else:
            skipped += 1
    return out, skipped


def iob_tags(m: Merged) -> list[str]:
    """IOB2 tags of a merged input's tokens; tokens a binary answer leaves unknown get ``-``."""
    tags = ["O" if m.complete else MISSING_TAG] * m.n_words
    for start, end, label in m.ents:
        tags[start] = f"B-{label}"
        for i in range(start + 1, end):
            tags[i] = f"I-{label}"
    return tags


def conll_lines(merged: Iterable[Merged], partial: bool = False) -> Iterator[str]:
    """CoNLL lines: ``token<TAB>tag`` per token, a blank line after each input; whitespace tokens left out."""
    for m in merged:
        if not (m.complete or partial):
            continue
        for word, tag in zip(m.words, iob_tags(m)):
            if word.strip():
                yield f"{'_'.join(word.split())}\t{tag}"
        yield ""


def line_boxes(boxes: Sequence[Sequence[float]]) -> list[list[float]]:
    """Token boxes of one entity merged into one box per line of text (in token order)."""
    lines: list[list[float]] = []
    for x0, y0, x1, y1 in boxes:
        if lines:
            cur = lines[-1]
            middle = (y0 + y1) / 2
            same_line = cur[1] <= middle <= cur[3] and x0 >= cur[2] - 0.5 * (y1 - y0)
            if same_line:
                cur[0], cur[1], cur[2], cur[3] = min(cur[0], x0), min(cur[1], y0), max(cur[2], x1), max(cur[3], y1)
                continue
        lines.append([x0, y0, x1, y1])
    return lines


def entity_record(task: dict, m: Merged) -> dict:
    """A page's entities with their text and boxes merged per line, in the task's pixels."""
    tokens = task["tokens"]
    entities = []
    for start, end, label in m.ents:
        toks = tokens[start:end]
        boxes = [t["bbox"] for t in toks if t.get("bbox")]
        text = "".join(w + (" " if ws else "") for w, ws in zip(m.words[start:end], m.spaces[start:end])).strip()
        entity = {"label": label, "text": text}  # as merged: with the tokens corrected by hand
        read = ocr_text(toks).strip()
        if read != text:  # what OCR read, too
            entity[OCR_TEXT] = read
        entity.update(token_start=start, token_end=end - 1, boxes=line_boxes(boxes))
        if len(boxes) < len(toks):  # tokens without a box: nothing to draw or cover for them
            entity["unboxed_tokens"] = len(toks) - len(boxes)
        entities.append(entity)
    meta = task.get("meta") or {}
    return {"image": task.get("image"), "width": task.get("width"), "height": task.get("height"),
            "meta": {k: meta[k] for k in ("path", "page", "pages", "image_key") if k in meta},
            INPUT_HASH: m.input_hash, "entities": entities}


def visual_records(store: Any, dataset: str, merged: Iterable[Merged]) -> Iterator[dict]:
    """Entity records of the dataset's visual inputs (those with token boxes), streamed, one per input."""
    by_hash = {m.input_hash: m for m in merged if m.boxes is not None}
    for task in store.iter_examples(dataset):
        key = task.get(INPUT_HASH)
        key = input_hash(task) if key is None else key
        m = by_hash.get(key)
        if m is not None and len(task.get("tokens") or ()) == m.n_words:  # the answer whose tokens were merged
            del by_hash[key]
            yield entity_record(task, m)


def record_image(record: dict, images: Callable[[str], Path]) -> Path:
    """The page image a record's boxes refer to, by its key from ``images`` (the page cache renders it if need be)."""
    key = (record.get("meta") or {}).get("image_key")
    if not key:
        raise InputError("the task has no meta.image_key: no page image to draw on", record.get("image") or "task")
    return images(key)


class FileNames:
    """File names for documents by their stem, unique in one folder: report.pdf in two folders -> report, report-2."""

    def __init__(self) -> None:
        self._by_document: dict[str, str] = {}
        self._taken: set[str] = set()

    def stem(self, document: str, name: str) -> str:
        """The unique stem given to ``document``, from its file's ``name``."""
        if document not in self._by_document:
            base = Path(name).stem
            name, n = base, 1
            while name in self._taken:
                n += 1
                name = f"{base}-{n}"
            self._taken.add(name)
            self._by_document[document] = name
        return self._by_document[document]


def label_colour(label: str) -> str:
    """A label's colour, the same in every session and export: FNV-1a (32 bit) of its UTF-8 bytes picks one of PALETTE."""
    h = 0x811C9DC5
    for byte in label.encode("utf-8", "surrogatepass"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return PALETTE[h % len(PALETTE)]


NEAR = 65  # colours closer than this (RGB distance) are hard to tell apart as span backgrounds


def label_colours(labels: Iterable[str], chosen: Mapping[str, str] | None = None) -> dict[str, str]:
    """The colours of a set of labels, each clearly distinct from the others (as static/util.js labelColors).

    A label the user chose a colour for (``--label-colors``) has it; the others, in sorted order (so the
    set, not the order it comes in, decides), take their hash's colour (:func:`label_colour`) unless it is
    near one taken, else the next of PALETTE that is not; with more labels than the palette can keep
    apart, the next unused one.
    """
    out = {label: colour for label, colour in (chosen or {}).items()}
    for label in sorted(set(labels) - set(out)):
        start = PALETTE.index(label_colour(label))
        ring = [PALETTE[(start + k) % len(PALETTE)] for k in range(len(PALETTE))]
        taken = list(out.values())
        out[label] = next((c for c in ring if all(_distance(c, t) >= NEAR for t in taken)),
                          next((c for c in ring if c not in taken), ring[0]))
    return out


def _distance(a: str, b: str) -> float:
    return math.dist(*(tuple(int(h[i:i + 2], 16) for i in (1, 3, 5)) for h in (a, b)))


def _scale(record: dict, size: tuple[int, int]) -> tuple[float, float]:
    width, height = record.get("width") or size[0], record.get("height") or size[1]
    return size[0] / width, size[1] / height


def draw_page(image_path: Path, record: dict, out: Path, colours: Mapping[str, str] | None = None) -> Path:
    """The page image with each entity's line boxes outlined in its label's colour (``colours``, else its own hash's),
    the label in a tag above, as in the app."""
    from PIL import Image, ImageDraw

    with Image.open(image_path) as src:
        image = src.convert("RGB")
    sx, sy = _scale(record, image.size)
    draw = ImageDraw.Draw(image)
    for ent in record["entities"]:
        colour = (colours or {}).get(ent["label"]) or label_colour(ent["label"])
        for i, (x0, y0, x1, y1) in enumerate(ent["boxes"]):
            box = [x0 * sx - 2, y0 * sy - 2, x1 * sx + 2, y1 * sy + 2]
            draw.rectangle(box, outline=colour, width=3)
            if i == 0:
                left, top, right, bottom = draw.textbbox((0, 0), ent["label"])
                tag = [box[0], max(0, box[1] - (bottom - top) - 4), box[0] + (right - left) + 6, box[1]]
                draw.rectangle(tag, fill=colour)
                draw.text((tag[0] + 3 - left, tag[1] + 2 - top), ent["label"], fill=TAG_TEXT)
    _save_png(image, out)
    return out


def redact_page(image_path: Path, record: dict, labels: set[str], out: Path, pad: int = 2) -> tuple[Any, int]:
    """The page image with the chosen labels' entities covered by filled black boxes; (image, boxes drawn)."""
    from PIL import Image, ImageDraw

    with Image.open(image_path) as src:
        image = src.convert("RGB")
    sx, sy = _scale(record, image.size)
    draw = ImageDraw.Draw(image)
    count = 0
    for ent in record["entities"]:
        if ent["label"] not in labels:
            continue
        for x0, y0, x1, y1 in ent["boxes"]:
            draw.rectangle([x0 * sx - pad, y0 * sy - pad, x1 * sx + pad, y1 * sy + pad], fill="black")
            count += 1
    _save_png(image, out)
    return image, count


def write_pages(records: Iterable[dict], out_dir: Path, mode: str, labels: Sequence[str] | None = None, *,
                images: Callable[[str], Path]) -> dict:
    """Draw (mode "draw") or redact (mode "redact") every page into out_dir; redacted documents also as PDFs.

    Returns counts: pages, boxes, the files written, and ``unboxed``: tokens of the drawn or covered
    entities that have no box (so stay visible). A redacted PDF holds only the page images, so no
    text layer of the original survives. Redacting labels that no entity has is a UsageError, not
    an export that silently covers nothing.
    """
    if mode not in ("draw", "redact"):
        raise UsageError(f"mode must be draw or redact, not {mode!r}")
    if mode == "redact" and not labels:
        raise UsageError("--redact needs --label: the entity labels to cover")
    check_output(out_dir, folder=True)
    records = list(records)
    found = {e["label"] for r in records for e in r["entities"]}
    chosen = set(labels or ()) if mode == "redact" else found
    if mode == "redact" and not chosen & found:
        raise UsageError(f"--label {', '.join(sorted(chosen))}: no entity to cover has that label (labels found: "
                         f"{', '.join(sorted(found)) or 'none'})")
    out_dir.mkdir(exist_ok=True)
    colours = label_colours(found)  # as the app shows the dataset's labels
    names = FileNames()
    by_document: dict[str, list[tuple[int, Path]]] = {}
    files, boxes, unboxed = [], 0, 0
    for record in records:
        image_path = record_image(record, images)
        stem = names.stem(document_of(record), (record.get("meta") or {}).get("path") or f"input{record[INPUT_HASH]}")
        page = (record.get("meta") or {}).get("page", 1)
        out = out_dir / f"{stem}-p{page}.png"
        if mode == "draw":
            draw_page(image_path, record, out, colours)
            boxes += sum(len(e["boxes"]) for e in record["entities"])
        else:
            _, n = redact_page(image_path, record, chosen, out)
            boxes += n
            by_document.setdefault(stem, []).append((page, out))
        unboxed += sum(e.get("unboxed_tokens", 0) for e in record["entities"] if e["label"] in chosen)
        files.append(out)
    for stem, pages in by_document.items():
        pdf = out_dir / f"{stem}-redacted.pdf"
        _pages_to_pdf([p for _, p in sorted(pages)], pdf)
        files.append(pdf)
    return {"pages": len(records), "boxes": boxes, "files": files, "unboxed": unboxed}


def _save_png(image: Any, out: Path) -> None:
    with atomic_file(out, "wb") as f:
        image.save(f, format="PNG")


def _pages_to_pdf(pngs: Sequence[Path], out: Path) -> None:
    from PIL import Image

    images = [Image.open(p).convert("RGB") for p in pngs]
    try:
        with atomic_file(out, "wb") as f:
            images[0].save(f, save_all=True, append_images=images[1:], format="PDF", resolution=150.0)
    finally:
        for image in images:
            image.close()


@dataclass
class Source:
    """The dataset to export and the options exporters read; the merge is done once, when first needed."""

    store: Any
    dataset: str
    labels: Sequence[str] | None = None  # entity labels the merge keeps (None: all)
    cover: Sequence[str] | None = None  # entity labels redaction covers
    answers: Sequence[str] | None = None  # answers the JSONL export keeps (None: all)
    partial: bool = False
    lang: str = "en"
    strict: bool = False  # an answer that cannot be used is an InputError, not left out
    embed_images: bool = False  # JSONL: each page task's image as a data URI instead of its reference
    page_images: Callable[[str], Path] | None = None  # page image by key, for --embed-images, --draw and --redact

    def images(self) -> Callable[[str], Path]:
        """The page images by key; UsageError when the caller gave none."""
        if self.page_images is None:
            raise UsageError("no page images: Source.page_images is not set")
        return self.page_images

    @cached_property
    def merged(self) -> MergeResult:
        """Every answer of the dataset merged per input."""
        return merged_dataset(self.store, self.dataset, self.labels, self.lang, self.strict)


@dataclass
class Exported:
    """An exporter's result: text lines for the caller to write (``unit`` names them), or what it wrote."""

    lines: Iterable[str] | None = None
    unit: str = ""
    summary: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Exporter:
    """One output mode: ``run(source, target)`` with target the OUTPUT file (None: stdout) or a folder."""

    run: Callable[[Source, Path | None], Exported]
    merged: bool = True  # reads the merged answers
    binary: bool = False  # writes the target file itself, so needs one (not stdout)
    folder: bool = False  # writes page files into the target folder (--draw, --redact)


def _jsonl(source: Source, target: Path | None) -> Exported:
    raw = source.store.iter_raw(source.dataset, source.answers)
    if not source.embed_images:
        return Exported(raw, "examples")
    warnings: list[str] = []
    return Exported(_embedded(raw, warnings, source.images()), "examples", warnings=warnings)


def _embedded(raw: Iterable[str], warnings: list[str], page_image: Callable[[str], Path]) -> Iterator[str]:
    """Stored examples with their page images as PNG data URIs; one that cannot be made stays a reference."""
    failed, first = 0, ""
    for line in raw:
        example = json.loads(line)
        key = (example.get("meta") or {}).get("image_key")
        if key:
            try:
                example["image"] = "data:image/png;base64," + base64.b64encode(page_image(key).read_bytes()).decode()
                line = json.dumps(example, ensure_ascii=False, separators=(",", ":"))
            except VnerteachError as err:
                failed, first = failed + 1, first or str(err)
        yield line
    if failed:  # read by the caller after the lines are written
        warnings.append(f"{failed} page images not embedded (kept as references), e.g. {first}")


def _spacy(source: Source, target: Path | None) -> Exported:
    import spacy

    bin_, skipped = docbin(spacy.blank(source.lang).vocab, source.merged.merged, source.partial)
    write_atomic(target, bin_.to_bytes())
    return Exported(summary=[f"Exported {len(bin_)} docs from '{source.dataset}' to {target}"
                             + (f" ({skipped} binary inputs left out; --partial includes them)" if skipped else "")])


def _conll(source: Source, target: Path | None) -> Exported:
    return Exported(conll_lines(source.merged.merged, source.partial), "lines")


def _boxes(source: Source, target: Path | None) -> Exported:
    records = visual_records(source.store, source.dataset, source.merged.merged)
    return Exported((json.dumps(r) for r in records), "pages")


def _pages(mode: str) -> Callable[[Source, Path | None], Exported]:
    def run(source: Source, folder: Path | None) -> Exported:
        records = visual_records(source.store, source.dataset, source.merged.merged)
        done = write_pages(records, folder, mode, source.cover, images=source.images())
        verb = "drew" if mode == "draw" else "covered"
        summary = (f"{mode.capitalize()}: {done['pages']} pages, {verb} {done['boxes']} boxes, "
                   f"{len(done['files'])} files in {folder}")
        warnings = [f"{done['unboxed']} entity tokens have no box on the page and are not "
                    + ("drawn" if mode == "draw" else "covered: check those pages before sharing them")]
        return Exported(summary=[summary], warnings=warnings if done["unboxed"] else [])

    return run


EXPORTERS: dict[str, Exporter] = {
    "jsonl": Exporter(_jsonl, merged=False),
    "spacy": Exporter(_spacy, binary=True),
    "conll": Exporter(_conll),
    "boxes": Exporter(_boxes),
    "draw": Exporter(_pages("draw"), folder=True),
    "redact": Exporter(_pages("redact"), folder=True),
}
FORMATS = tuple(name for name, exporter in EXPORTERS.items() if not exporter.folder)
