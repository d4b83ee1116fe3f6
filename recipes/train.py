"""Training commands: ner.batch-train, ner.evaluate, ner.train-curve."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable

from rich.progress import Progress
from rich.table import Table

from vnerteach import Arg, Opt, recipe
from vnerteach.files import check_output, write_atomic
from vnerteach.errors import InputError, UsageError
from vnerteach.output import good, info, progress_bar, stdout, warn
from vnerteach.flags import option
from vnerteach.store import connect

from .common import dataset_names, failure_log, report_merge

if TYPE_CHECKING:
    from vnerteach.nlp.pipeline import Settings
    from vnerteach.nlp.pretraining import Pretrained
    from vnerteach.nlp.training import TrainStart
    from vnerteach.nlp.training_data import TrainingData


def _f(x: float) -> str:
    return f"{100 * x:.1f}"


def _score_table(scores, title: str) -> Table:
    table = Table(title=title)
    table.add_column("Label")
    for column in ("Gold", "Predicted", "Correct", "P", "R", "F"):
        table.add_column(column, justify="right")
    for label, c in sorted(scores.per_label.items()):
        table.add_row(label, str(c.tp + c.fn), str(c.tp + c.fp), str(c.tp), _f(c.p), _f(c.r), _f(c.f))
    total = scores.overall
    table.add_row("[bold]all[/]", str(total.tp + total.fn), str(total.tp + total.fp), str(total.tp),
                  f"[bold]{_f(total.p)}[/]", f"[bold]{_f(total.r)}[/]", f"[bold]{_f(total.f)}[/]")
    return table


def _report_data(data: "TrainingData") -> None:
    m = data.merge
    sizes = ", ".join(f"'{name}' {n}" for name, n in data.datasets.items())
    info(f"Answers: {sizes}; {len(m.merged)} inputs after merging "
         f"({sum(x.complete for x in m.merged)} complete, {sum(not x.complete for x in m.merged)} binary); "
         f"{m.ignored} ignored, {m.rejected_complete} rejected manual tasks left out")
    report_merge(data.conflicts, data.conflict_inputs, data.unusable)
    if data.overlap:
        warn(f"{data.overlap} inputs of the evaluation dataset are also in the training data: "
             "excluded from training")
    for note in data.notes:
        warn(note)
    info(f"Training on {len(data.train)} inputs, evaluating on {len(data.dev)}; labels: {', '.join(data.labels)}")


@dataclass(frozen=True)
class TrainOptions:
    """The flags ner.batch-train and ner.train-curve share: the data, the blank base and the schedule."""

    lang: str = option("en", "Language of the blank base pipeline")
    eval_dataset: str | None = option(None, "Dataset to evaluate on (instead of --eval-split)")
    eval_split: float | None = option(None, "Share of inputs held out for evaluation, chosen by input hash "
                                            "(default 0.2)")
    n_iter: int = option(10, "Number of epochs", "-n")
    batch_size: int = option(1000, "Words per batch (batches grow from 100 to this)", "-b")
    dropout: float = option(0.1, "Dropout rate", "-d")
    seed: int = option(0, "Random seed")
    label: list[str] | None = option(None, "Train only these labels, e.g. PERSON,ORG", "-l")
    layout: bool = option(True, "Use token boxes as features when the examples have them")
    strict: bool = option(False, "Stop at the first answer that cannot be used (exit 1) instead of leaving it out")
    init_tok2vec: Path | None = option(None, "Start the tok2vec from weights written by 'vnerteach pretrain' "
                                             "(a folder) instead of random ones")
    vectors: str | None = option(None, "Word vectors as static features of the tok2vec: an installed spaCy pipeline "
                                       "or a pipeline or vectors folder, as spaCy's [initialize] vectors, e.g. "
                                       "en_core_web_lg or ./vectors (from 'python -m spacy init vectors'); the NER "
                                       "still starts from blank")
    lookups: bool = option(False, "Brown clusters and word probabilities of spacy-lookups-data as features of the "
                                  "tok2vec (pip install 'vnerteach[lookups]'): a blank model that knows which words "
                                  "are alike")

    def settings(self, beam_width: int = 16) -> "Settings":
        """The training settings (UsageError for a value out of range or --vectors that give no vectors)."""
        from vnerteach.nlp.pipeline import Settings, check_vectors

        if self.n_iter < 1:
            raise UsageError(f"--n-iter must be 1 or more, not {self.n_iter}")
        if self.batch_size < 1 or not 0 <= self.dropout < 1 or beam_width < 1:
            raise UsageError("--batch-size and --beam-width must be 1 or more, --dropout from 0 to below 1")
        if self.vectors is not None:
            check_vectors(self.vectors, self.lang)
        if self.lookups:
            from vnerteach.nlp.lexemes import lexeme_tables

            lexeme_tables(self.lang)  # read once and kept for the pipelines: a missing package fails now
        return Settings(n_iter=self.n_iter, batch_size=self.batch_size, dropout=self.dropout, seed=self.seed,
                        beam_width=beam_width, vectors=self.vectors, lexemes=self.lookups)

    def keywords(self) -> dict[str, Any]:
        """The keywords of ``training.train`` and ``training.train_curve`` these flags give: the data and the base."""
        return {"lang": self.lang, "eval_dataset": self.eval_dataset, "eval_split": self.eval_split,
                "labels": self.label, "strict": self.strict, "layout": self.layout}

    def pretrained(self) -> "Pretrained | None":
        """The --init-tok2vec weights (UsageError for a folder that is not pretrain's output), or None."""
        from vnerteach.nlp.pretraining import load_pretrained

        return load_pretrained(self.init_tok2vec) if self.init_tok2vec is not None else None


def _describe_vectors(nlp) -> str:
    """'word vectors 'en_vectors' (20,000 rows, 300 wide)'."""
    vectors = nlp.vocab.vectors
    return f"word vectors '{vectors.name}' ({vectors.shape[0]:,} rows, {vectors.shape[1]} wide)"


class _Shown:
    """Shows training as it goes: a bar over each epoch's words, and a line per epoch (``epochs``) or per curve run."""

    def __init__(self, progress: Progress, settings: "Settings", epochs: bool,
                 on_start: "Callable[[TrainStart], None] | None" = None):
        self.progress, self.settings, self.epochs, self.on_start = progress, settings, epochs, on_start
        self.label, self.bar, self.data = "training", None, None
        self.points: list[tuple[float, float]] = []

    def __call__(self, event) -> None:
        from vnerteach.nlp.training import BatchDone, CurvePoint, CurveRun, EpochDone, TrainStart

        if isinstance(event, TrainStart):
            self.data = event.data
            _report_data(event.data)
            if self.on_start is not None:
                self.on_start(event)
        elif isinstance(event, CurveRun):
            self.label = f"{event.share:.0%}"
        elif isinstance(event, BatchDone):
            if self.bar is None:
                self.bar = self.progress.add_task(self.label, total=None)
            self.progress.update(self.bar, completed=event.words, total=event.total_words,
                                 description=f"{self.label} epoch {event.epoch}/{self.settings.n_iter}")
        elif isinstance(event, EpochDone) and self.epochs:
            s = event.scores.overall if event.scores else None
            dev = f"P {_f(s.p):>5}  R {_f(s.r):>5}  F {_f(s.f):>5}" if s else "no dev set"
            self.progress.console.print(f"epoch {event.epoch:>3}  loss {event.loss:10.2f}  {dev}  "
                                        f"{event.words_per_second:8.0f} words/s"
                                        + ("  [green]best[/]" if event.best and s else ""))
        elif isinstance(event, CurvePoint):
            self.done(event.skipped)
            change = f"{100 * (event.f - self.points[-1][1]):+.1f}" if self.points else ""
            self.points.append((event.share, event.f))
            self.progress.console.print(f"{event.share:>4.0%}  {event.inputs:>6} inputs  F {_f(event.f):>5}  {change}")

    def done(self, skipped: int) -> None:
        """A run ended: its bar goes, and the updates the beam search could not make are told."""
        if self.bar is not None:
            self.progress.remove_task(self.bar)
            self.bar = None
        if skipped:
            warn(f"{skipped} example updates skipped: the beam search found no analysis of them that "
                 "avoids their rejected spans")


@recipe("ner.batch-train")
def batch_train(
    datasets: Annotated[str, Arg("Dataset(s) to train on, comma-separated")],
    output: Annotated[Path, Opt("Folder to save the trained pipeline to", "-o")],
    training: TrainOptions = TrainOptions(),
    beam_width: Annotated[int, Opt("Beam width of the NER component (ner.teach's scores come from the beam)")] = 16,
    *,
    db: str,
) -> None:
    """Train an NER pipeline from a blank base on every answer in the datasets; save the best epoch.

    Answers are merged per input: accepted and rejected ner.teach spans teach what is and is not
    an entity (other tokens stay unknown); accepted ner.manual / ner.correct answers are complete.
    The saved folder loads with spacy.load and with ner.teach; its meta.json holds the scores.

    Example: vnerteach ner.batch-train news_ner --output ./model --eval-split 0.2 --n-iter 10
    """
    from vnerteach.nlp.training import train

    check_output(output, model=True)
    settings = training.settings(beam_width)
    pretrained = training.pretrained()

    def started(event: "TrainStart") -> None:
        info("Layout features: " + ("on" if event.layout else "off")
             + f"; blank '{training.lang}' base, beam_ner (width {beam_width})"
             + (f"; tok2vec pretrained in {training.init_tok2vec}" if pretrained else "")
             + (f"; {_describe_vectors(event.nlp)} from {training.vectors}" if training.vectors else "")
             + ("; Brown clusters and word probabilities of spacy-lookups-data" if training.lookups else ""))

    with connect(db) as store, progress_bar(transient=True) as progress:
        shown = _Shown(progress, settings, epochs=True, on_start=started)
        result = train(store, dataset_names(datasets), settings=settings, pretrained=pretrained, output=output,
                       on_event=shown, **training.keywords())
        shown.done(result.skipped)
    best = result.best
    if best is not None and best.scores is not None:
        stdout.print(_score_table(best.scores, f"Best epoch {best.epoch}: {best.scores.describe()}"))
        good(f"Saved the model of epoch {best.epoch} (F {_f(best.scores.overall.f)}) to {output}")
    else:
        good(f"Saved the model after {settings.n_iter} epochs (no evaluation set) to {output}")


@recipe("ner.evaluate")
def evaluate(
    model: Annotated[str, Arg("Trained pipeline folder (or installed package name)")],
    dataset: Annotated[str, Arg("Dataset to evaluate on")],
    output: Annotated[Path | None, Opt("Write the scores to this JSON file", "-o")] = None,
    label: Annotated[list[str] | None, Opt("Score only these labels", "-l")] = None,
    strict: Annotated[bool, Opt("Stop at the first answer that cannot be used (exit 1) instead of leaving it out")] = False,
    fields: Annotated[bool, Opt("Score one best value per label per document by exact match (spaces and case "
                                "ignored, as SROIE is scored) instead of entities")] = False,
    min_score: Annotated[float, Opt("With --fields: leave out values scoring below this, from 0 to 1")] = 0.0,
    *,
    db: str,
) -> None:
    """Score a trained pipeline's entities on a dataset: per-label and overall precision, recall, F1.

    Complete annotations (ner.manual, ner.correct) are scored fully; binary ner.teach answers are
    scored on their accepts (found or missed) and rejects (wrongly predicted or not); the table
    says which was done.

    With --fields, the pages of each document (grouped by file) get one value per label, the
    highest-scoring beam candidate (as `predict --fields`), compared with the accepted spans.

    Example: vnerteach ner.evaluate ./model news_eval --output scores.json
    """
    from vnerteach.nlp.evaluation import evaluate as score
    from vnerteach.nlp.pipeline import load_pipeline
    from vnerteach.nlp.training_data import load_answers, restrict_labels

    if output is not None:
        check_output(output)
    if fields:
        return _evaluate_fields(model, dataset, output, label, min_score, db)
    nlp = load_pipeline(model, ner=True)
    with connect(db) as store:
        result, counts = load_answers(store, [dataset], nlp, strict=strict)
    if label:
        restrict_labels(result.merged, set(label))
    if not result.merged:
        raise InputError(f"Dataset '{dataset}': no usable answers to evaluate on ({result.answers} answers, "
                         f"{result.ignored} ignored, {result.conflicts} contradictions, "
                         f"{len(result.unusable)} unusable)")
    report_merge(result.conflicts, result.conflict_inputs, result.unusable)
    _check_shared_labels(nlp, result.merged, model, dataset)
    scores = score(nlp, result.merged)
    if label:
        scores.per_label = {k: v for k, v in scores.per_label.items() if k in set(label)}
    stdout.print(_score_table(scores, f"{model} on '{dataset}'"))
    info(f"Scoring: {scores.describe()}")
    if output is not None:
        data = dict(scores.to_dict(), model=str(model), dataset=dataset, answers=counts[dataset])
        write_atomic(output, (json.dumps(data, indent=2) + "\n").encode())
        good(f"Saved the scores to {output}")


def _check_shared_labels(nlp, merged: list, model: str, dataset: str) -> None:
    """InputError when the model knows none of the labels the dataset's answers use: its scores would all be 0."""
    answered = {label for m in merged for _start, _end, label in (*m.ents, *m.negs)}
    known = set(nlp.get_pipe("ner").labels)
    if answered and not answered & known:
        raise InputError(f"{model} has none of the labels of '{dataset}' (the model: {', '.join(sorted(known)) or 'none'}; "
                         f"the dataset: {', '.join(sorted(answered))}): evaluate it on a dataset of its labels")


def _evaluate_fields(model: str, dataset: str, output: Path | None, label: list[str] | None, min_score: float,
                     db: str) -> None:
    from vnerteach.nlp.field_scores import answer_documents, score_fields
    from vnerteach.nlp.pipeline import load_pipeline
    from vnerteach.tasks import tokenized

    if not 0.0 <= min_score <= 1.0:
        raise UsageError(f"--min-score must be from 0 to 1, not {min_score}")
    nlp = load_pipeline(model, beam=True)
    with connect(db) as store:
        if dataset not in store:
            raise InputError(f"Dataset '{dataset}' not found")
        documents = answer_documents(tokenized(nlp, store.iter_examples(dataset, ["accept"]), failure_log()))
    if not documents:
        raise InputError(f"Dataset '{dataset}': no accepted answers to evaluate fields on")
    labels = list(dict.fromkeys(label or [])) or None
    scores = score_fields(nlp, documents, labels, min_score)
    stdout.print(_score_table(scores, f"{model} on '{dataset}': fields"))
    info(f"Scoring: one value per label per document ({len(documents)} documents), exact match with spaces "
         "and case ignored")
    if output is not None:
        data = dict(scores.to_dict(), model=str(model), dataset=dataset, documents=len(documents), fields=True)
        write_atomic(output, (json.dumps(data, indent=2) + "\n").encode())
        good(f"Saved the scores to {output}")


@recipe("ner.train-curve")
def train_curve(
    datasets: Annotated[str, Arg("Dataset(s) to train on, comma-separated")],
    training: TrainOptions = TrainOptions(),
    *,
    db: str,
) -> None:
    """Train on 25%, 50%, 75% and 100% of the training data to see whether more annotations would help.

    Example: vnerteach ner.train-curve news_ner --eval-split 0.2 --n-iter 10
    """
    from vnerteach.nlp.training import curve_reading, train_curve as run

    settings = training.settings()
    pretrained = training.pretrained()
    with connect(db) as store, progress_bar(transient=True) as progress:
        shown = _Shown(progress, settings, epochs=False)
        points = run(store, dataset_names(datasets), settings=settings, pretrained=pretrained, on_event=shown,
                     **training.keywords())
    table = Table(title=f"Training curve ({len(shown.data.dev)} evaluation inputs)")
    for column in ("Share", "Inputs", "F", "Change"):
        table.add_column(column, justify="right")
    for before, point in zip([None, *points], points):
        change = f"{100 * (point.f - before.f):+.1f}" if before else ""
        table.add_row(f"{point.share:.0%}", str(point.inputs), _f(point.f), change)
    stdout.print(table)
    info(curve_reading([(point.share, point.f) for point in points]))
