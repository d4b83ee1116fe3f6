"""A restart remembers: the model in the loop starts from one trained from blank on the dataset's answers.

The dataset's answers are counted at once (``TeachModel.recall``: rejected words are not asked
again, patterns keep their scores); a pipeline is trained from blank on them by ner.batch-train's
``training.train`` in a background thread while the stream starts with the base model, and is
swapped into the TeachModel (under its lock) when it is done.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import VnerteachError


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
    from ..store import connect

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

    from ..nlp.pipeline import Settings
    from ..store import connect
    from ..nlp.training import train

    start = time.perf_counter()
    base, pretrained = model.settings.pipeline, model.settings.init_tok2vec
    settings = Settings(n_iter=n_iter, vectors=base.vectors, lexemes=base.lexemes)
    with connect(db) as store:
        result = train(store, [dataset], settings=settings, lang=model.tokenizer().lang, eval_split=0.0,
                       model_labels=model.labels, layout=None, pretrained=pretrained, stop=state.stop.is_set)
    if result.stopped:
        state.note = "stopped at exit"
        return
    model.swap(result.nlp)
    state.trained_on = len(result.data.train)
    state.seconds = time.perf_counter() - start
