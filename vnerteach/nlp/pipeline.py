"""The NER pipeline: its config, a blank one to train, loading MODEL arguments, and beam probabilities.

The pipeline is ``spacy.blank(lang)`` plus one ``beam_ner`` component (named ``ner``) whose
tok2vec is MultiHashEmbed + MaxoutWindowEncoder (spaCy's CNN), or with layout features
(``vnerteach.LayoutEmbed.v2``: the token's box and its 2-D neighbourhood) when the examples have
boxes. ``beam_ner`` gives ner.teach its candidate probabilities (``scored_ents``) and learns from
rejected spans (``incorrect_spans_key``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from ..errors import ModelLoadError, UsageError
from .layout import LAYOUT_ARCH, LAYOUT_ARCH_V1, NEIGHBOUR_ROWS, NEIGHBOURS  # importing layout registers them
from .lexemes import LEXEME_ARCH  # registers it
from .merge import INCORRECT_SPANS_KEY

COMPONENTS = ("beam_ner", "ner")
EMBED_ATTRS = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
EMBED_ROWS = [5000, 1000, 2500, 2500]
VECTORS_FLAG = "--vectors"
_VECTORS_HINT = ("give a pipeline folder or installed package with word vectors, e.g. en_core_web_lg or a folder "
                 "written by 'python -m spacy init vectors'")
_MODEL_HINT = ("use blank:LANG such as blank:en, a pipeline folder (e.g. written by ner.batch-train) "
               "or an installed package")


@dataclass(frozen=True)
class Settings:
    """The pipeline's shape and its training hyper-parameters (spaCy's defaults for its CNN NER, 10 epochs)."""

    n_iter: int = 10
    batch_size: int = 1000  # words per batch, compounding up from 100 as in spaCy's default batcher
    dropout: float = 0.1
    seed: int = 0
    component: str = "beam_ner"
    beam_width: int = 16
    width: int = 96
    depth: int = 4
    layout_arch: str = LAYOUT_ARCH  # LAYOUT_ARCH_V1 for the token's own box only
    spread_rejects: bool = True  # rejected words are incorrect spans wherever they occur (merge.spread_rejects)
    vectors: str | None = None  # --vectors: a pipeline folder or package whose word vectors are static features
    lexemes: bool = False  # --lookups: Brown clusters and word probabilities of spacy-lookups-data as features


# --- config -------------------------------------------------------------------------------------------


def model_config(lang: str, layout: bool, settings: Settings = Settings()) -> str:
    """The spaCy config ([nlp] and [components]) of the pipeline vnerteach trains."""
    if settings.component not in COMPONENTS:
        raise UsageError(f"component must be one of {', '.join(COMPONENTS)}, not {settings.component!r}")
    if settings.layout_arch not in (LAYOUT_ARCH, LAYOUT_ARCH_V1):
        raise UsageError(f"layout_arch must be {LAYOUT_ARCH} or {LAYOUT_ARCH_V1}, not {settings.layout_arch!r}")
    static = "true" if settings.vectors else "false"
    embed = (f'@architectures = "{settings.layout_arch}"' if layout else
             f'@architectures = "spacy.MultiHashEmbed.v2"\ninclude_static_vectors = {static}')
    if layout and settings.vectors:  # left out otherwise, so the config of earlier layout models is unchanged
        embed += "\ninclude_static_vectors = true"
    if settings.lexemes and layout:  # left out otherwise, as the vectors
        embed += "\nlexemes = true"
    elif settings.lexemes:
        embed = f'@architectures = "{LEXEME_ARCH}"\ninclude_static_vectors = {static}'
    if layout and settings.layout_arch == LAYOUT_ARCH:
        embed += f"\nneighbours = {NEIGHBOURS}\nneighbour_rows = {NEIGHBOUR_ROWS}"
    beam = (f"beam_width = {settings.beam_width}\nbeam_density = 0.01\nbeam_update_prob = 0.5\n"
            if settings.component == "beam_ner" else "")
    return f"""
[nlp]
lang = "{lang}"
pipeline = ["ner"]

[components]

[components.ner]
factory = "{settings.component}"
incorrect_spans_key = "{INCORRECT_SPANS_KEY}"
{beam}
[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "ner"
extra_state_tokens = false
hidden_width = 64
maxout_pieces = 2
use_upper = true
nO = null

[components.ner.model.tok2vec]
@architectures = "spacy.Tok2Vec.v2"

[components.ner.model.tok2vec.embed]
{embed}
width = {settings.width}
attrs = {EMBED_ATTRS}
rows = {EMBED_ROWS}

[components.ner.model.tok2vec.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = {settings.width}
depth = {settings.depth}
window_size = 1
maxout_pieces = 3
""".replace("'", '"')


def training_config(lang: str, layout: bool, settings: Settings, train_path: str, dev_path: str,
                    eval_frequency: int) -> str:
    """A full config for ``python -m spacy train`` with the same pipeline, batching and optimizer."""
    return model_config(lang, layout, settings) + f"""
[paths]
train = "{train_path}"
dev = "{dev_path}"

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${{paths.train}}
max_length = 0

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${{paths.dev}}
max_length = 0

[system]
seed = {settings.seed}
gpu_allocator = null

[training]
seed = {settings.seed}
dropout = {settings.dropout}
accumulate_gradient = 1
patience = 0
max_epochs = {settings.n_iter}
max_steps = 0
eval_frequency = {eval_frequency}
frozen_components = []
annotating_components = []

[training.batcher]
@batchers = "spacy.batch_by_words.v1"
discard_oversize = false
tolerance = 0.2

[training.batcher.size]
@schedules = "compounding.v1"
start = 100
stop = {settings.batch_size}
compound = 1.001

[training.optimizer]
@optimizers = "Adam.v1"
beta1 = 0.9
beta2 = 0.999
L2_is_weight_decay = true
L2 = 0.01
grad_clip = 1.0
use_averages = false
eps = 1e-8
learn_rate = 0.001

[training.score_weights]
ents_f = 1.0
ents_p = 0.0
ents_r = 0.0
ents_per_type = null
"""


# --- pipelines ----------------------------------------------------------------------------------------


def check_lang(lang: str, flag: str = "--lang") -> None:
    """UsageError naming ``flag`` when spaCy has no language ``lang``."""
    import spacy

    try:
        spacy.util.get_lang_class(lang)
    except ImportError:
        raise UsageError(f"{flag} {lang}: spaCy has no language '{lang}'") from None


def blank_nlp(lang: str, flag: str = "--lang") -> Any:
    """spaCy's blank pipeline of ``lang``, a tokenizer and vocab; UsageError naming ``flag`` for a language it lacks."""
    import spacy

    check_lang(lang, flag)
    return spacy.blank(lang)


def blank_pipeline(lang: str, labels: Iterable[str], layout: bool, settings: Settings = Settings(),
                   overrides: dict[str, Any] | None = None) -> Any:
    """A blank pipeline of ``lang`` with an untrained NER component that knows ``labels``.

    ``overrides`` sets config values by dotted path (as ``spacy train``'s), e.g. the neighbour slots."""
    import spacy
    from thinc.api import Config

    check_lang(lang)
    config = Config().from_str(model_config(lang, layout, settings), overrides=overrides or {})
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    if settings.vectors:
        load_vectors(nlp, settings.vectors)
    if settings.lexemes:
        from .lexemes import lexeme_tables

        nlp.vocab.lookups = lexeme_tables(nlp.lang)  # shared, read-only
    ner = nlp.get_pipe("ner")
    for label in sorted(labels):
        ner.add_label(label)
    return nlp


def load_vectors(nlp: Any, name: str) -> None:
    """Put the word vectors of a pipeline folder or installed package into ``nlp``'s vocab before it is initialised.

    As spaCy's ``[initialize] vectors`` (``spacy.training.initialize.load_vectors_into_model``): the vectors
    pipeline is loaded with ``nlp``'s vocab, which takes its vectors table. A folder or package that cannot be
    loaded, has no vectors or is of another language is a UsageError naming ``--vectors``.
    """
    import re
    import warnings

    from spacy.util import OOV_RANK, load_model
    from spacy.vectors import Mode

    flag = f"{VECTORS_FLAG} {name}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # spaCy's version warnings of an older package: the vectors still load
            source = load_model(name, vocab=nlp.vocab, exclude=["lookups"])
    except (ImportError, OSError, ValueError, KeyError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        other = re.search(r"\[E150\].* found '([^']+)' and '([^']+)'", first)
        if other:  # spaCy refuses a vectors pipeline of another language than the vocab's
            raise UsageError(f"{flag}: the vectors are for language '{other.group(1)}', this pipeline is "
                             f"'{other.group(2)}' (--lang or blank:LANG)") from None
        raise UsageError(f"{flag}: cannot load it ({first}); {_VECTORS_HINT}") from None
    except Exception as err:  # noqa: BLE001 - a broken config.cfg (ConfigValidationError) and the like
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UsageError(f"{flag}: cannot load it ({type(err).__name__}: {first}); {_VECTORS_HINT}") from None
    vectors = nlp.vocab.vectors
    if source.lang != nlp.lang:
        raise UsageError(f"{flag}: the vectors are for language '{source.lang}', this pipeline is '{nlp.lang}' "
                         f"(--lang or blank:LANG)")
    empty = vectors.shape[0] == 0 if vectors.mode == Mode.floret else len(vectors.keys()) == 0
    if empty or vectors.shape[1] == 0:
        raise UsageError(f"{flag}: the pipeline has no word vectors; {_VECTORS_HINT}")
    if not vectors.name:
        vectors.name = f"{source.lang}_vectors"
    for lex in nlp.vocab:  # as load_vectors_into_model: each known word's row in the table
        lex.rank = vectors.key2row.get(lex.orth, OOV_RANK)


def check_vectors(name: str, lang: str) -> None:
    """UsageError naming --vectors when ``name`` gives no word vectors for a ``lang`` pipeline (before any work)."""
    load_vectors(blank_nlp(lang), name)


def load_pipeline(model: str, *, ner: bool = False, beam: bool = False) -> Any:
    """A MODEL argument as a pipeline: ``blank:LANG``, a pipeline folder or an installed package.

    ``ner`` requires an NER component, ``beam`` one with a beam (for probabilities). Every way it
    can fail is a ModelLoadError naming MODEL, so each command reports a bad MODEL the same way.
    """
    import spacy

    lang = model.split(":", 1)[1] if model.startswith("blank:") else None
    if lang is not None:
        try:
            spacy.util.get_lang_class(lang)
        except ImportError:
            raise ModelLoadError(model, f"cannot load it (spaCy has no language '{lang}'); {_MODEL_HINT}") from None
    try:
        nlp = spacy.blank(lang) if lang is not None else spacy.load(model)
    except (ImportError, OSError, ValueError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelLoadError(model, f"cannot load it ({first}); {_MODEL_HINT}") from None
    if (ner or beam) and "ner" not in nlp.pipe_names:
        raise ModelLoadError(model, "the pipeline has no 'ner' component")
    if beam and not has_beam(nlp.get_pipe("ner")):
        raise ModelLoadError(model, "its NER has no beam (beam_width 1), so it gives no probabilities; "
                                    "train it with ner.batch-train (beam_ner) or start from blank:LANG")
    return nlp


# --- beam probabilities -------------------------------------------------------------------------------


def model_labels(nlp: Any) -> list[str]:
    """A trained pipeline's NER labels in the order it was trained with (its meta), else spaCy's (sorted)."""
    known = list(nlp.get_pipe("ner").labels)
    ordered = [label for label in (nlp.meta.get("vnerteach") or {}).get("labels") or [] if label in known]
    return ordered + [label for label in known if label not in ordered]


def has_beam(ner: Any) -> bool:
    """Whether an NER component is a beam_ner with a beam, so it gives entity probabilities."""
    return hasattr(ner, "scored_ents") and ner.cfg.get("beam_width", 1) >= 2


def predict_beams(nlp: Any, docs: Sequence[Any], *, prune: bool = True) -> list[Any]:
    """The NER's beam per doc (after the components before it); ``prune=False`` keeps every parse.

    Unpruned, a model that has seen mostly rejects still has candidate entities to ask about;
    pruned to the best few (the component's own beam_density), it may find none at all.
    """
    ner = nlp.get_pipe("ner")
    if not has_beam(ner):
        raise UsageError("the pipeline's NER component has no beam: entity probabilities need beam_ner")
    docs = list(docs)
    for name, proc in nlp.pipeline:
        if name == "ner":
            break
        docs = list(proc.pipe(docs))
    if prune:
        return ner.predict(docs)
    density = ner.cfg.get("beam_density", 0.0)
    ner.cfg["beam_density"] = 0.0
    try:
        return ner.predict(docs)
    finally:
        ner.cfg["beam_density"] = density


def entity_scores(nlp: Any, docs: Sequence[Any], *, prune: bool = True) -> list[dict[tuple[int, int, str], float]]:
    """Per doc, each candidate entity (start, end, label) with its probability from the beam (beam_ner only)."""
    ner = nlp.get_pipe("ner")
    return [dict(scores) for scores in ner.scored_ents(predict_beams(nlp, docs, prune=prune))]
