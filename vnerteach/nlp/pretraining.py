"""Pretraining of the NER's token-to-vector layer on unlabelled text and pages, and loading the weights it writes.

spaCy's characters objective (``spacy.PretrainCharacters.v1``): a share of the tokens is masked
and the tok2vec, with a small output layer on top, learns to predict the first and last
characters of each masked token from its context. Unlike ``spacy pretrain``, which reads JSONL
texts, the loop runs here on our own Docs (``layout.task_doc``), so a page keeps its token boxes
and a layout tok2vec (``vnerteach.LayoutEmbed``, the version the pipeline config names) is pretrained exactly as it will be trained.
The weights are the tok2vec of ``pipeline.blank_pipeline`` (``tok2vec.bin``, thinc's bytes) with a
``meta.json`` that records that tok2vec's config; a pipeline uses them only if its tok2vec config
is the same (``load_pretrained``, ``apply_pretrained``). ``pretrain_source`` is the `pretrain` command's
one call: read the source, pretrain, save.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy

from ..errors import NoText, UsageError
from ..files import atomic_folder, check_output
from .pipeline import Settings, blank_nlp, blank_pipeline

if TYPE_CHECKING:
    from ..documents import DocumentOptions
    from ..failures import TaskFailure

WEIGHTS = "tok2vec.bin"
META = "meta.json"
MASK = "[MASK]"
FLAG = "--init-tok2vec"


@dataclass(frozen=True)
class PretrainSettings:
    """The objective and schedule: spaCy's pretraining defaults (characters objective) but for the epochs."""

    epochs: int = 10
    batch_size: int = 1000  # words per batch (spaCy: 3000; smaller for more updates on a small corpus)
    dropout: float = 0.2
    learn_rate: float = 0.001
    mask_prob: float = 0.15
    n_characters: int = 4
    hidden_size: int = 300
    maxout_pieces: int = 3
    seed: int = 0


@dataclass(frozen=True)
class PretrainBatch:
    """Progress within an epoch: words seen so far of the epoch's total."""

    epoch: int
    words: int
    total_words: int


@dataclass(frozen=True)
class PretrainEpoch:
    """One finished epoch: its loss per word and its speed."""

    epoch: int
    loss: float
    words: int
    seconds: float


@dataclass
class Pretrained:
    """Weights of a pretrained tok2vec and what they were pretrained for (meta.json)."""

    path: Path
    weights: bytes
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def layout(self) -> bool:
        """Whether the weights are of a layout tok2vec (token boxes as features)."""
        return bool(self.meta.get("layout"))

    @property
    def lang(self) -> str:
        """The language whose blank pipeline the weights were pretrained in."""
        return str(self.meta.get("lang", "en"))


# --- the tok2vec and its description ---------------------------------------------------------------


def tok2vec_of(nlp: Any) -> Any:
    """The tok2vec layer of the pipeline's NER component, which the weights are for."""
    return nlp.get_pipe("ner").model.get_ref("tok2vec")


def tok2vec_config(nlp: Any) -> dict[str, Any]:
    """The NER's tok2vec config as plain data: two pipelines can share weights only if theirs are equal."""
    return json.loads(json.dumps(nlp.config["components"]["ner"]["model"]["tok2vec"]))


def describe(config: dict[str, Any]) -> str:
    """A tok2vec config in a few words: embedding architecture, width and depth."""
    embed, encode = config.get("embed", {}), config.get("encode", {})
    return (f"{embed.get('@architectures', '?')} width {embed.get('width', '?')}, "
            f"{encode.get('@architectures', '?')} width {encode.get('width', '?')} depth {encode.get('depth', '?')}")


# --- the pretraining loop -------------------------------------------------------------------------------


def _masked(docs: Sequence[Any], rng: numpy.random.Generator, prob: float) -> tuple[numpy.ndarray, list[Any]]:
    """BERT-style masking as spaCy's, but the masked Docs keep their token boxes: (kept-token flags, docs)."""
    from .layout import doc_boxes, make_doc

    words = [t.text for doc in docs for t in doc]
    keep = rng.uniform(0.0, 1.0, len(words)) >= prob
    rolls = rng.uniform(0.0, 1.0, len(words))
    masked, i = [], 0
    for doc in docs:
        new = []
        for token in doc:
            if keep[i] or rolls[i] >= 0.9:
                new.append(token.text)
            elif rolls[i] < 0.8:
                new.append(MASK)
            else:
                new.append(words[int(rng.integers(len(words)))])  # a random word of the batch
            i += 1
        masked.append(make_doc(doc.vocab, new, [bool(t.whitespace_) for t in doc], doc_boxes(doc)))
    return keep, masked


def _objective(tok2vec: Any, sample: Any, s: PretrainSettings, rng: numpy.random.Generator) -> Any:
    """The tok2vec with the characters objective's output layer on top, fed masked copies of the docs.

    ``sample`` is the tok2vec's output on a few docs: the NER's tok2vec ref already ends in one
    array for the batch (spaCy's parser model adds list2array and a projection), a plain tok2vec
    in one array per doc.
    """
    from thinc.api import LayerNorm, Maxout, Model, MultiSoftmax, chain, list2array

    head = [Maxout(nO=s.hidden_size, nP=s.maxout_pieces), LayerNorm(nI=s.hidden_size),
            MultiSoftmax([256] * s.n_characters, nI=s.hidden_size)]
    output = chain(list2array(), *head) if isinstance(sample, list) else chain(*head)
    wrapped = chain(tok2vec, output)

    def forward(model: Model, docs: list[Any], is_train: bool):
        keep, masked = _masked(docs, rng, s.mask_prob)
        keep_col = model.ops.asarray(keep.astype("float32")).reshape((-1, 1))
        predicted, backprop = wrapped(masked, is_train)

        def backward(d_predicted):
            return backprop(d_predicted * (1 - keep_col))  # learn from the masked tokens only

        return predicted, backward

    def init(model: Model, X: Any = None, Y: Any = None) -> None:
        output.initialize(X=tok2vec.predict(X))  # the tok2vec is initialised with its pipeline

    return Model("pretrain_characters", forward, init=init, layers=[wrapped])


def pretrain(nlp: Any, docs: Sequence[Any], settings: PretrainSettings = PretrainSettings()
             ) -> Iterator[PretrainBatch | PretrainEpoch]:
    """Pretrain the NER's tok2vec of ``nlp`` on ``docs``, yielding progress; at the end it holds the averaged weights."""
    from spacy.ml.models.multi_task import get_characters_loss
    from spacy.training.batchers import minibatch_by_words
    from thinc.api import Adam, fix_random_seed, set_dropout_rate

    s = settings
    if s.epochs < 1:
        raise UsageError(f"--epochs must be 1 or more, not {s.epochs}")
    docs = [doc for doc in docs if len(doc)]
    if not docs:
        raise UsageError("nothing to pretrain on: the source has no tokens")
    fix_random_seed(s.seed)
    order_rng = random.Random(s.seed)
    tok2vec = tok2vec_of(nlp)
    nlp.initialize()
    model = _objective(tok2vec, tok2vec.predict(docs[:2]), s, numpy.random.default_rng(s.seed))
    model.initialize(X=docs[:16])
    rates = {node.id: node.attrs["dropout_rate"] for node in tok2vec.walk() if "dropout_rate" in node.attrs}
    set_dropout_rate(model, s.dropout)
    optimizer = Adam(s.learn_rate, L2=0.01, L2_is_weight_decay=True, grad_clip=1.0, use_averages=True)
    total = sum(len(doc) for doc in docs)
    for epoch in range(1, s.epochs + 1):
        start = time.perf_counter()
        order = list(docs)
        order_rng.shuffle(order)
        loss = 0.0
        done = 0
        for batch in minibatch_by_words(order, size=s.batch_size, tolerance=0.2):
            predicted, backprop = model.begin_update(batch)
            batch_loss, gradient = get_characters_loss(model.ops, batch, predicted, s.n_characters)
            backprop(gradient)
            model.finish_update(optimizer)
            loss += float(batch_loss)
            done += sum(len(doc) for doc in batch)
            yield PretrainBatch(epoch, done, total)
        yield PretrainEpoch(epoch, loss / max(done, 1), done, time.perf_counter() - start)
    for node in tok2vec.walk():  # keep the averaged weights, as spaCy saves them, and the layer's own dropout
        if node.id in rates:
            node.attrs["dropout_rate"] = rates[node.id]
        for name in node.param_names:
            key = (node.id, name)
            if key in optimizer.averages:
                node.set_param(name, optimizer.averages[key].copy())


def pretraining_pipeline(lang: str, layout: bool, settings: Settings = Settings()) -> Any:
    """The blank pipeline whose NER tok2vec is pretrained: the one ner.batch-train and ner.teach build."""
    return blank_pipeline(lang, [], layout, settings)


# --- saving and loading ----------------------------------------------------------------------------------


def save_pretrained(nlp: Any, output: Path, meta: dict[str, Any]) -> Path:
    """Write the tok2vec weights and meta.json (with the tok2vec config they need) to a folder, whole or not at all."""
    output = check_output(output, model=True)
    data = dict(meta, tok2vec_config=tok2vec_config(nlp))
    with atomic_folder(output) as folder:
        (folder / WEIGHTS).write_bytes(tok2vec_of(nlp).to_bytes())
        (folder / META).write_text(json.dumps(data, indent=2) + "\n")
    return output


def load_pretrained(path: str | Path) -> Pretrained:
    """The weights and meta of a folder written by ``vnerteach pretrain``; UsageError naming --init-tok2vec if it is not one."""
    path = Path(path)
    if not path.is_dir():
        raise UsageError(f"{FLAG} {path}: no such folder (give a folder written by 'vnerteach pretrain')")
    try:
        weights = (path / WEIGHTS).read_bytes()
        meta = json.loads((path / META).read_text(encoding="utf8"))
    except (OSError, ValueError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise UsageError(f"{FLAG} {path}: not a folder written by 'vnerteach pretrain' ({WEIGHTS} and {META}: "
                         f"{reason})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("tok2vec_config"), dict) or not weights:
        raise UsageError(f"{FLAG} {path}: {META} does not describe pretrained tok2vec weights "
                         "(write the folder with 'vnerteach pretrain')")
    return Pretrained(path, weights, meta)


def check_pretrained(nlp: Any, pretrained: Pretrained) -> None:
    """UsageError naming --init-tok2vec when the weights were pretrained for another tok2vec than this pipeline's."""
    if nlp.lang != pretrained.lang:
        raise UsageError(f"{FLAG} {pretrained.path}: the weights were pretrained for language '{pretrained.lang}', "
                         f"this pipeline is '{nlp.lang}'")
    wanted, found = tok2vec_config(nlp), pretrained.meta["tok2vec_config"]
    if wanted == found:
        return
    layout = "layout" in json.dumps(wanted).lower()
    hint = ""
    if pretrained.layout != layout:
        hint = (" (pretrained with layout features, " if pretrained.layout else " (pretrained without layout features, ") + \
               ("this pipeline has none: pretrain with --no-layout or train with --layout)" if pretrained.layout else
                "this pipeline has them: pretrain on pages with boxes, or train with --no-layout)")
    raise UsageError(f"{FLAG} {pretrained.path}: the weights are for a different tok2vec{hint}: "
                     f"pretrained {describe(found)}; this pipeline {describe(wanted)}")


def apply_pretrained(nlp: Any, pretrained: Pretrained) -> None:
    """Put the pretrained weights into the NER's tok2vec of an initialised pipeline (after ``nlp.initialize``)."""
    check_pretrained(nlp, pretrained)
    tok2vec = tok2vec_of(nlp)
    if not tok2vec.can_from_bytes(pretrained.weights, strict=True):
        raise UsageError(f"{FLAG} {pretrained.path}: {WEIGHTS} does not fit this pipeline's tok2vec "
                         f"({describe(tok2vec_config(nlp))}); pretrain again with this version of vnerteach")
    tok2vec.from_bytes(pretrained.weights)


def pretraining_meta(lang: str, layout: bool, settings: Settings, pretrain_settings: PretrainSettings,
                     docs: int, words: int, curve: list[PretrainEpoch]) -> dict[str, Any]:
    """What meta.json says besides the tok2vec config: language, layout, shape, schedule, data and loss curve."""
    from ..version import __version__

    return {"lang": lang, "layout": layout, "width": settings.width, "depth": settings.depth,
            "objective": "characters (spacy.PretrainCharacters.v1)", "epochs": pretrain_settings.epochs,
            "docs": docs, "words": words, "settings": asdict(pretrain_settings),
            "loss": [round(e.loss, 4) for e in curve], "vnerteach": __version__}


# --- one call ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceRead:
    """Reading the source: texts and pages read or failed so far, of ``total`` (None when unknown)."""

    done: int
    total: int | None


@dataclass(frozen=True)
class PretrainStart:
    """The source is read: texts and pages, words, those with token boxes, and whether the tok2vec has layout."""

    docs: int
    words: int
    boxed: int
    layout: bool


PretrainEvent = SourceRead | PretrainStart | PretrainBatch | PretrainEpoch


@dataclass
class PretrainRun:
    """What ``pretrain_source`` did: the folder written, what it read, the loss per epoch, what could not be read."""

    output: Path
    docs: int
    words: int
    boxed: int
    layout: bool
    curve: list[PretrainEpoch]
    failures: list[TaskFailure]


def _read_docs(tokenizer: Any, tasks: Iterator[dict], failures: list[TaskFailure], total: int | None,
               max_docs: int | None, on_event: Callable[[PretrainEvent], None]) -> list[Any]:
    """The source's texts and pages with tokens as Docs (at most ``max_docs``), their token boxes kept."""
    from .layout import task_doc

    docs: list[Any] = []
    on_event(SourceRead(0, total))
    for task in tasks:
        if task.get("tokens"):
            docs.append(task_doc(tokenizer.vocab, task))
        on_event(SourceRead(len(docs) + len(failures), total))
        if max_docs is not None and len(docs) >= max_docs:
            break
    return docs


def pretrain_source(source: str, output: Path, *, lang: str = "en", layout: bool | None = None,
                    settings: PretrainSettings = PretrainSettings(), max_docs: int | None = None,
                    recursive: bool = False, documents: DocumentOptions | None = None,
                    on_event: Callable[[PretrainEvent], None] | None = None) -> PretrainRun:
    """Read a source, pretrain the tok2vec on it and save the weights, whole or not at all: ``vnerteach pretrain``.

    ``layout`` None pretrains the layout tok2vec when the source has token boxes. A file, line or page that
    cannot be read is left out (``PretrainRun.failures``); NoText when nothing could be.
    """
    from ..documents import DocumentOptions
    from .layout import doc_boxes
    from ..sources import get_stream, source_size
    from ..tasks import tokenized

    if settings.epochs < 1:
        raise UsageError(f"--epochs must be 1 or more, not {settings.epochs}")
    if max_docs is not None and max_docs < 1:
        raise UsageError(f"--max-docs must be 1 or more, not {max_docs}")
    output = check_output(output, model=True)
    documents = documents or DocumentOptions()
    shape = Settings()
    tokenizer = blank_nlp(lang, "--spacy-lang")
    tell = on_event or (lambda event: None)
    failures: list[TaskFailure] = []
    total = source_size(source, recursive=recursive, password=documents.password)
    tasks = tokenized(tokenizer, get_stream(source, recursive=recursive, documents=documents,
                                            on_failure=failures.append), failures.append)
    docs = _read_docs(tokenizer, tasks, failures, min(total, max_docs) if total and max_docs else total, max_docs,
                      tell)
    words = sum(len(doc) for doc in docs)
    if not words:
        raise NoText(f"{source}: no text to pretrain on ({len(failures)} failures)", failures)
    boxed = sum(doc_boxes(doc) is not None for doc in docs)
    use_layout = bool(boxed) if layout is None else layout
    tell(PretrainStart(len(docs), words, boxed, use_layout))
    nlp = pretraining_pipeline(lang, use_layout, shape)
    curve: list[PretrainEpoch] = []
    for event in pretrain(nlp, docs, settings):
        tell(event)
        if isinstance(event, PretrainEpoch):
            curve.append(event)
    meta = pretraining_meta(lang, use_layout, shape, settings, len(docs), words, curve)
    save_pretrained(nlp, output, meta)
    return PretrainRun(output, len(docs), words, boxed, use_layout, curve, failures)

