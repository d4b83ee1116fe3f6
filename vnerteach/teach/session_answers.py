"""The session's answers to the model in the loop, per input: what it learns from and replays, merged input by input."""

from __future__ import annotations

from collections import deque
from typing import Any, Sequence

from ..nlp.merge import merge_answers
from ..tasks import INPUT_HASH, TASK_HASH, set_hashes
from .memory import AnswerMemory


class SessionAnswers:
    """Each input's answers of this session, merged as a whole (``merge.merge_answers``); counted in ``memory`` too.

    A new answer to a question answered before in the same session replaces the earlier one; an undo
    (:meth:`forget`) takes one back.
    """

    def __init__(self, labels: Sequence[str], memory: AnswerMemory):
        self.labels, self.memory = labels, memory
        self._answers: dict[int, list[dict]] = {}  # answers per input hash
        self.known: dict[int, Any] = {}  # input hash -> Merged: what can be learnt from the input
        self._recent: deque[int] = deque(maxlen=5000)

    def of(self, key: int) -> list[dict]:
        """The session's answers to one input (by input hash) that are kept."""
        return list(self._answers.get(key, []))

    def add(self, answers: Sequence[dict]) -> dict[int, Any]:
        """Keep these answers (one that is neither accept nor reject takes its question's back); return the inputs
        they touch that can be learnt from, merged again, in order."""
        touched = []
        for eg in answers:
            if eg.get("answer") not in ("accept", "reject") or not eg.get("tokens"):
                self.forget([eg])
                continue
            key = eg.get(INPUT_HASH)
            if key is None:
                key = set_hashes(eg)[INPUT_HASH]
            slim = {k: v for k, v in eg.items() if k not in ("image", "meta")}
            for old in self._answers.get(key, []):
                if _same_question(old, slim):
                    self.memory.add(old, -1)
            self._answers[key] = [a for a in self._answers.get(key, []) if not _same_question(a, slim)] + [slim]
            self.memory.add(slim)
            touched.append(key)
        if not touched:
            return {}
        touched = list(dict.fromkeys(touched))
        fresh = self._remerge(touched)
        self._recent.extend(k for k in touched if k in fresh)
        return {k: fresh[k] for k in touched if k in fresh}

    def older(self, fresh: dict[int, Any]) -> list[int]:
        """The inputs answered recently, but for ``fresh``, that can still be learnt from: what an update replays."""
        return [k for k in dict.fromkeys(self._recent) if k in self.known and k not in fresh]

    def forget(self, answers: Sequence[dict]) -> None:
        """Drop answers that were retracted (undo): later updates neither merge nor replay them."""
        touched = []
        for eg in answers:
            key = eg.get(INPUT_HASH)
            kept = [a for a in self._answers.get(key, []) if not _same_question(a, eg)]
            for old in self._answers.get(key, []):
                if _same_question(old, eg):
                    self.memory.add(old, -1)
            if key in self._answers and len(kept) < len(self._answers[key]):
                self._answers[key] = kept
                touched.append(key)
        if touched:
            self._remerge(list(dict.fromkeys(touched)))

    def _remerge(self, keys: list[int]) -> dict[int, Any]:
        """Merge the answers of these inputs again; what can be learnt from each is known (and replayed) from now on."""
        fresh = {m.input_hash: m for m in merge_answers([a for k in keys for a in self._answers[k]], self.labels).merged}
        for key in keys:
            if key in fresh:
                self.known[key] = fresh[key]
            else:
                self.known.pop(key, None)  # only contradictions, or no answer, left
            if not self._answers[key]:
                del self._answers[key]
        return fresh


def _same_question(a: dict, b: dict) -> bool:
    """Whether two answers answer the same question (task hash) in the same session."""
    return a.get(TASK_HASH) is not None and a.get(TASK_HASH) == b.get(TASK_HASH) and a.get("_session_id") == b.get("_session_id")
