"""A restart remembers: the model in the loop starts from one trained from blank on the dataset's answers.

The dataset's answers are counted at once (``TeachModel.recall``: rejected words are not asked
again, patterns keep their scores); a pipeline is trained from blank on them with ner.batch-train's
trainer in a background thread while the stream starts with the base model, and is swapped into the
TeachModel (under its lock) when it is done.

During a session the same happens again on a schedule (``Retrainer``): each time the answered inputs
double (at 5, 10, 20, 40, 80, ...), a pipeline is trained from blank on the dataset's answers in the
background and swapped in, while the online updates go on with the old one (bench/RESULTS.md, issue 21
point 4). One training thread at a time, the warm start's included.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import VnerteachError

RETRAIN_FIRST = 5  # answered inputs of the first retrain; the next ones when they have doubled
RETRAIN_EPOCHS = 10  # ner.batch-train's default --n-iter


@dataclass
class WarmStart:
    """A warm start: answers recalled, the training thread, and how it ended (``trained_on`` inputs, or ``note``)."""

    dataset: str
    recalled: int = 0
    thread: threading.Thread | None = None
    trained_on: int = 0
    seconds: float = 0.0
    note: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the model is swapped in or the warm start gave up; whether it ended."""
        return self.done.wait(timeout)

    def cancel(self) -> None:
        """Stop training after its current batch and wait for it (the process must not exit inside BLIS)."""
        self.stop.set()
        if self.thread is not None:
            self.thread.join()


def warm_start(model: Any, db: str, dataset: str, n_iter: int = 5,
               on_done: Callable[[WarmStart], None] | None = None) -> WarmStart:
    """Recall the dataset's answers now and train on them in the background (nothing to do for a new dataset)."""
    from .store import connect

    state = model.warm = WarmStart(dataset)
    with connect(db) as store:
        if dataset not in store.datasets():
            state.note = "a new dataset"
            state.done.set()
            return state
        state.recalled = model.recall(store.iter_examples(dataset))
        if _trained_on_these(model, dataset, store.count(dataset)):
            state.note = "MODEL was trained on these answers already"
            state.done.set()
            return state
    if not state.recalled:
        state.note = "no answers yet"
        state.done.set()
        return state

    def run() -> None:
        try:
            _train(model, db, dataset, n_iter, state)
        except VnerteachError as err:
            state.note = str(err)
        except Exception as err:  # noqa: BLE001 - a failed warm start leaves the base model, it must not end the session
            state.note = f"{type(err).__name__}: {err}"
        finally:
            state.done.set()
            if on_done is not None:
                on_done(state)

    state.thread = threading.Thread(target=run, name="vnerteach-warm-start", daemon=True)
    state.thread.start()
    return state


def _trained_on_these(model: Any, dataset: str, examples: int) -> bool:
    """Whether MODEL is ner.batch-train's output on this dataset when it had no fewer answers than now."""
    if not model.started_trained:
        return False
    meta = model.nlp.meta.get("vnerteach") or {}
    return dataset in (meta.get("datasets") or []) and \
        meta.get("train_inputs", 0) + meta.get("eval_inputs", 0) >= examples


def _train(model: Any, db: str, dataset: str, n_iter: int, state: WarmStart) -> None:
    """Train from blank on the dataset's answers of the model's labels, then swap the pipeline in."""
    import time

    from .pipeline import Settings, blank_pipeline
    from .store import connect
    from .training import Trainer, prepare_data, restrict_labels

    start = time.perf_counter()
    lang = model.tokenizer().lang
    with connect(db) as store:
        data = prepare_data(store, [dataset], lang=lang, eval_split=0.0)
    restrict_labels(data.train, set(model.labels))
    if not any(m.ents or m.complete for m in data.train):
        state.note = f"no accepted entity of {', '.join(model.labels)} to learn from"
        return
    settings = Settings(n_iter=n_iter)
    layout = model.init_tok2vec.layout if model.init_tok2vec is not None else data.has_boxes
    nlp = blank_pipeline(lang, model.labels, layout, settings)
    for _ in Trainer(nlp, data.train, [], settings, init_tok2vec=model.init_tok2vec).epochs():
        if state.stop.is_set():
            state.note = "stopped at exit"
            return
    if state.stop.is_set():
        state.note = "stopped at exit"
        return
    model.swap(nlp)
    state.trained_on = len(data.train)
    state.seconds = time.perf_counter() - start


def doubling(answered: int, last: int) -> bool:
    """The retrain schedule: at RETRAIN_FIRST answered inputs, then whenever they have doubled since the last one."""
    return answered >= max(RETRAIN_FIRST, 2 * last)


class Retrainer:
    """Retrains the in-loop model from blank on the dataset's answers on a schedule, in the background, and swaps it in.

    ``TeachModel.update`` calls :meth:`poke` after each update: when the schedule says so (``due(answered inputs,
    answered inputs at the last retrain)``) and no training is under way (the warm start's neither), a thread
    trains from blank on the dataset as it is in the store (this session's answers with the earlier ones) and
    swaps the pipeline in (``TeachModel.swap``: the version goes up, so the look-ahead is scored again).
    Answering never waits for it. :meth:`close` stops a training under way after its current batch and waits
    for it; nothing starts after. ``runs`` holds each retrain's ``WarmStart`` (``trained_on``, ``seconds``,
    ``note``); ``on_done`` is called with each as it ends.
    """

    def __init__(self, model: Any, db: str, dataset: str, due: Callable[[int, int], bool] = doubling,
                 n_iter: int = RETRAIN_EPOCHS, on_done: Callable[[WarmStart], None] | None = None):
        self.model, self.db, self.dataset, self.due, self.n_iter, self.on_done = model, db, dataset, due, n_iter, on_done
        self.runs: list[WarmStart] = []
        self.last = 0  # answered inputs the last training started at (the warm start's included)
        self._base: int | None = None  # inputs the model was trained on when the session's answers started counting
        self._lock = threading.Lock()
        self._closed = False
        model.retrain = self

    @property
    def current(self) -> WarmStart | None:
        """The retrain under way, if any."""
        return self.runs[-1] if self.runs and not self.runs[-1].done.is_set() else None

    def answered(self) -> int:
        """Answered inputs the next retrain would learn from: those the model was trained on, and the session's."""
        return (self._base or 0) + len(self.model._known)

    def poke(self) -> WarmStart | None:
        """Start a retrain if one is due and none is under way; the one started, or None."""
        with self._lock:
            warm = self.model.warm
            if self._closed or self.current is not None or (warm is not None and not warm.done.is_set()):
                return None
            if self._base is None:  # counted from the warm start's training (or MODEL's, on these answers)
                if not _keeps(self.model, self.dataset):
                    self._closed = True
                    return None
                self._base = warm.trained_on if warm is not None and warm.trained_on else _trained_inputs(self.model, self.dataset)
                self.last = self._base
            answered = self.answered()
            if not self.due(answered, self.last):
                return None
            self.last = answered
            state = WarmStart(self.dataset)
            self.runs.append(state)

            def run() -> None:
                try:
                    _train(self.model, self.db, self.dataset, self.n_iter, state)
                except VnerteachError as err:
                    state.note = str(err)
                except Exception as err:  # noqa: BLE001 - a failed retrain keeps the model in use
                    state.note = f"{type(err).__name__}: {err}"
                finally:
                    state.done.set()
                    if self.on_done is not None:
                        self.on_done(state)

            state.thread = threading.Thread(target=run, name="vnerteach-retrain", daemon=True)
            state.thread.start()
            return state

    def close(self) -> None:
        """Stop the retrain under way after its current batch and wait for it; start none after."""
        with self._lock:
            self._closed = True
            current = self.current
        if current is not None:
            current.cancel()


def _keeps(model: Any, dataset: str) -> bool:
    """Whether retraining from blank on the dataset keeps what the model knows: it started blank, or was trained from
    blank on this dataset (by ner.batch-train, or the warm start). A MODEL trained on other data is never replaced."""
    if not model.started_trained or (model.warm is not None and model.warm.trained_on):
        return True
    meta = model.nlp.meta.get("vnerteach") or {}
    return dataset in (meta.get("datasets") or [])


def _trained_inputs(model: Any, dataset: str) -> int:
    """Inputs of the dataset a batch-trained MODEL was trained on (0 for any other model)."""
    if not model.started_trained:
        return 0
    meta = model.nlp.meta.get("vnerteach") or {}
    if dataset not in (meta.get("datasets") or []):
        return 0
    return int(meta.get("train_inputs", 0) + meta.get("eval_inputs", 0))
