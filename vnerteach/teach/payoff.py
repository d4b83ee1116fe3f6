"""Whether the model in the loop is paying: the share of its pre-fills the annotator keeps, the share of its questions accepted.

ner.correct records what it pre-filled (``meta.prefilled``); a pre-filled span the answer still has
with the same boundaries and label was kept (it cost a glance, not an edit). ner.teach's answers are
binary (``merge.is_binary``): accept or reject. Each figure is taken over a sliding window of recent
answers (``KEPT_WINDOW`` inputs, ``ACCEPT_WINDOW`` questions), and its trend is the same figure after
each of the last ``TREND`` answers, so the app and ``stats`` can draw whether it rises.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable, Sequence

from ..nlp.merge import is_binary
from ..tasks import TASK_HASH

KEPT_WINDOW = 20  # ner.correct inputs
ACCEPT_WINDOW = 50  # ner.teach questions
TREND = 40  # points of the trend line
HISTORY = 2 * (max(KEPT_WINDOW, ACCEPT_WINDOW) + TREND)  # a dataset's latest answers read for the figures
# The cost model (costs.py) charges a kept pre-fill KEEP_S and a wrong one EDIT_S on top of the
# EDIT_S of the right span, so pre-filling saves time once more than EDIT_S / (2 EDIT_S - KEEP_S) of
# the pre-fills are kept: 2.5 / 4.5, about 56%.
BREAK_EVEN = 0.56


@dataclass(frozen=True)
class Figure:
    """One figure over its window: the value (None before any count), what it counts, and its trend."""

    name: str  # "kept" (pre-fills kept, ner.correct) or "accepted" (questions accepted, ner.teach)
    value: float | None
    hits: int  # pre-fills kept, or questions accepted, in the window
    of: int  # pre-fills made, or questions answered, in the window
    answers: int  # answers in the window (inputs, or questions)
    window: int
    trend: tuple[float, ...]

    def as_dict(self) -> dict:
        """The JSON form the API serves."""
        return {"name": self.name, "value": self.value, "hits": self.hits, "of": self.of, "answers": self.answers,
                "window": self.window, "trend": list(self.trend),
                "break_even": BREAK_EVEN if self.name == "kept" else None}


def kept(eg: dict) -> tuple[int, int] | None:
    """(pre-fills kept, pre-fills made) of an accepted ner.correct answer; None for any other answer."""
    prefilled = (eg.get("meta") or {}).get("prefilled")
    if not isinstance(prefilled, list) or eg.get("answer") != "accept":
        return None
    final = {(s.get("start"), s.get("end"), s.get("label")) for s in eg.get("spans") or [] if isinstance(s, dict)}
    made = [tuple(p) for p in prefilled if isinstance(p, list) and len(p) == 3]
    return sum(p in final for p in made), len(made)


def accepted(eg: dict) -> tuple[int, int] | None:
    """(1, 1) for an accepted ner.teach question, (0, 1) for a rejected one; None for any other answer."""
    if not is_binary(eg) or eg.get("answer") not in ("accept", "reject"):
        return None
    return int(eg["answer"] == "accept"), 1


KINDS = {"kept": (kept, KEPT_WINDOW), "accepted": (accepted, ACCEPT_WINDOW)}


class Payoff:
    """The recent outcomes of the model's pre-fills and questions, by task hash (so an undo takes one back)."""

    def __init__(self, examples: Iterable[dict] = ()):
        self._outcomes: dict[str, OrderedDict[object, tuple[int, int]]] = {name: OrderedDict() for name in KINDS}
        for eg in examples:
            self.add(eg)

    def add(self, eg: dict) -> None:
        """Count an answer (a later answer to the same task replaces the earlier)."""
        key = eg.get(TASK_HASH)
        for name, (outcome, window) in KINDS.items():
            result = outcome(eg)
            if result is None:
                continue
            recent = self._outcomes[name]
            recent.pop(key, None)
            recent[key] = result
            while len(recent) > window + TREND:
                recent.popitem(last=False)

    def remove(self, task_hash: object) -> None:
        """Forget an answer that was retracted (undo)."""
        for outcomes in self._outcomes.values():
            outcomes.pop(task_hash, None)

    def figures(self) -> list[Figure]:
        """The figures that have answers behind them (none for ner.manual), most answers first."""
        out = [figure(name, list(self._outcomes[name].values())) for name in KINDS if self._outcomes[name]]
        return sorted(out, key=lambda f: -f.answers)


def figure(name: str, outcomes: list[tuple[int, int]]) -> Figure:
    """The figure over the last window of these outcomes (oldest first), with its value after each of the last TREND."""
    window = KINDS[name][1]

    def share(upto: int) -> float | None:
        part = outcomes[max(0, upto - window):upto]
        made = sum(of for _hits, of in part)
        return sum(hits for hits, _of in part) / made if made else None

    trend = [v for v in (share(i) for i in range(max(1, len(outcomes) - TREND + 1), len(outcomes) + 1))
             if v is not None]
    last = outcomes[-window:]
    return Figure(name, share(len(outcomes)), sum(h for h, _ in last), sum(o for _, o in last), len(last), window,
                  tuple(round(v, 3) for v in trend))


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int = 20) -> str:
    """The latest ``width`` shares (0..1) of a trend as a line of block characters, for an 80-column terminal."""
    return "".join(SPARKS[min(len(SPARKS) - 1, int(v * len(SPARKS)))] for v in values[-width:])
