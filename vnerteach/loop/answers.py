"""An answer from the app checked before it is stored: its fields, its hand corrections, the recipe's own check.

Apart from :mod:`vnerteach.tasks` (which checks a task as such) because rebuilding corrected
tokens (:mod:`vnerteach.tasks.corrections`) and the stored JSON form (:mod:`vnerteach.store`) build on it.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from ..errors import AnswerError, TaskError
from ..store import to_json
from ..tasks import ANSWERS, INPUT_HASH, TASK_HASH, check_hash, check_token_indices, validate_task
from ..tasks.added import Asked, check_added
from ..tasks.corrections import rebuild


def check_answer(eg: Any, session: str, view_id: str, asked: Callable[[int], Asked | None],
                 validate: Callable[[dict], None] | None = None) -> dict:
    """The answer made ready to store under ``session``, or AnswerError saying why it is refused.

    Hashes sent as strings become numbers, tokens corrected by hand are rebuilt into the text, tokens
    added by hand are checked against the page as it was asked (``asked(task_hash)``), and the
    recipe's ``validate`` (Prodigy's validate_answer) has its say.
    """
    if not isinstance(eg, dict):
        raise AnswerError("expected a task object")
    if eg.get("answer") not in ANSWERS:
        raise AnswerError(f"'answer' must be one of {', '.join(ANSWERS)}")
    for key in (INPUT_HASH, TASK_HASH):
        try:
            eg[key] = check_hash(eg.get(key), key)  # the questions send hashes as strings of digits
        except TaskError as err:
            raise AnswerError(str(err)) from None
    if "text" not in eg and "tokens" not in eg and "image" not in eg:
        raise AnswerError("the task has no 'text', 'image' or 'tokens'")
    try:
        sent_text = eg.get("text")
        corrected = rebuild(eg)  # tokens corrected by hand: text and offsets made to agree again
        validate_task(eg)
        check_token_indices(eg)
        check_added(eg, asked(eg[TASK_HASH]), sent_text if corrected else None)
        if validate is not None:
            validate(eg)
    except (TaskError, ValueError) as err:
        raise AnswerError(str(err)) from None
    eg["_session_id"] = session
    eg.setdefault("_view_id", view_id)
    if type(eg.get("_timestamp")) is not int:
        eg["_timestamp"] = int(time.time())
    try:
        to_json(eg).encode("utf-8")
    except UnicodeEncodeError:  # JSON allows lone surrogates (\ud800); the database does not
        raise AnswerError("the answer holds text that is not valid Unicode (a lone surrogate)") from None
    return eg
