"""Tasks: validation, the input and task hashes, and tokens with offsets.

Span offsets are code points (Python ``str`` indices). ``span_tokens`` is the one check that a span
falls on token boundaries: db-in applies it to tasks that have tokens, training and export to
every task once tokenized.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any, Iterable, Iterator

from ..errors import TaskError
from ..failures import OnFailure, failure_at, skip

ANSWERS = ("accept", "reject", "ignore")
INT64 = 2 ** 63
HASH_TEXT = re.compile(r"-?[0-9]{1,19}")
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
INPUT_HASH = "_input_hash"
TASK_HASH = "_task_hash"
# A task is refused when, as JSON with its tokens (what the browser gets and sends back), it is over
# MAX_TASK_BYTES, or when one of its tokens (a run of characters without whitespace, or of whitespace)
# is over MAX_TOKEN_CHARS: spaCy's tokenizer takes time quadratic in a token's length, holding the GIL.
MAX_TASK_BYTES = 4 * 2 ** 20
MAX_TOKEN_CHARS = 1000
MAX_INT_DIGITS = 1000  # Python reads at most 4,300; a hash has 20
MIN_TOKEN_JSON = 40  # bytes of the shortest token as JSON: {"text":"","start":0,"end":0,"id":0,"ws":true}
PIECE_CHARS = 200  # text is tokenized in pieces of about this size, so no single call holds the GIL for long
_LONG_RUN = re.compile(rf"(?<!\S)\S{{{MAX_TOKEN_CHARS + 1}}}|(?<!\s)\s{{{MAX_TOKEN_CHARS + 1}}}")
_RUN = re.compile(r"\S+|\s+")
_CUT = re.compile(r"(?<=\S) ")
TOO_BIG_WITH_TOKENS = f"with its tokens, the task is over the limit of {MAX_TASK_BYTES // 2 ** 20} MB"


def stable_hash(value: Any) -> int:
    """Signed 64-bit hash of canonical JSON: the same in every process and on every machine."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.blake2b(data.encode("utf8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def input_hash(task: dict) -> int:
    """Hash of the input alone: the image reference of a page task, else the text.

    A page's reference (``sha256:<file hash>#page=<n>``) is what identifies it, so the
    hash survives re-OCR and moved files; the OCR'd text of that page does not count.
    """
    if task.get("image") is not None:
        return stable_hash({"image": task["image"]})
    return stable_hash({"text": task.get("text", "")})


def task_hash(task: dict, input_hash_value: int | None = None) -> int:
    """Hash of the question: the input hash plus spans (start, end, label), label and options."""
    key: dict[str, Any] = {"input": input_hash_value if input_hash_value is not None else input_hash(task)}
    spans = task.get("spans")
    if spans:
        key["spans"] = sorted([s["start"], s["end"], s.get("label", "")] for s in spans)
    if task.get("label") is not None:
        key["label"] = task["label"]
    options = task.get("options")
    if options:
        key["options"] = [o.get("id") for o in options]
    return stable_hash(key)


def set_hashes(task: dict, overwrite: bool = False) -> dict:
    """Add ``_input_hash`` and ``_task_hash`` to the task (in place), keeping existing ones unless told."""
    if overwrite or INPUT_HASH not in task:
        task[INPUT_HASH] = input_hash(task)
    if overwrite or TASK_HASH not in task:
        task[TASK_HASH] = task_hash(task, task[INPUT_HASH])
    return task


def check_hash(value: Any, key: str) -> int:
    """A hash as a signed 64-bit integer; its digits as a string (how the app sends them) are read too."""
    if type(value) is str and HASH_TEXT.fullmatch(value):
        value = int(value)
    if type(value) is not int or not -INT64 <= value < INT64:
        raise TaskError(f"'{key}' must be a signed 64-bit integer (or its digits as a string), not {str(value)[:40]!r}")
    return value


def parse_json(text: str | bytes, surrogates: bool = False) -> Any:
    """Untrusted JSON as Python data; TaskError for what JSON or a task cannot hold (NaN, deep nesting, lone surrogates).

    ``surrogates=True`` leaves lone surrogates to the caller, which refuses them item by item.
    """
    try:
        text = text.decode("utf8") if isinstance(text, bytes) else text
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite, parse_int=_int)
    except json.JSONDecodeError as err:
        raise TaskError(f"invalid JSON: {err.msg} (column {err.colno})") from None
    except RecursionError:
        raise TaskError("invalid JSON: nested too deeply") from None
    except UnicodeDecodeError as err:
        raise TaskError(f"not UTF-8 text ({err.reason})") from None
    if not surrogates and SURROGATE_ESCAPE.search(text):
        try:  # escapes may pair into a real character; a lone half is not Unicode text
            json.dumps(data, ensure_ascii=False).encode("utf8")
        except UnicodeEncodeError as err:
            raise TaskError(f"invalid text: a lone surrogate {err.object[err.start]!r} is not a character") from None
    return data


def _no_constant(name: str) -> Any:
    raise TaskError(f"invalid JSON: {name} is not a number JSON allows")


def _finite(digits: str) -> float:
    """A JSON number with a fraction or exponent; one too large for a float (1e999) would be written back as Infinity."""
    value = float(digits)
    if not math.isfinite(value):
        raise TaskError(f"invalid JSON: {digits[:40]} is out of range for a number")
    return value


def _int(digits: str) -> int:
    """A JSON integer; Python refuses to read one of more than 4,300 digits (a ValueError deep in the parser)."""
    if len(digits) > MAX_INT_DIGITS:
        raise TaskError(f"invalid JSON: an integer of {len(digits)} digits (at most {MAX_INT_DIGITS})")
    return int(digits)


def validate_task(task: Any) -> dict:
    """Check a task's shape; fill ``text`` from ``tokens`` when only tokens are given."""
    if not isinstance(task, dict):
        raise TaskError(f"expected a JSON object, got {type(task).__name__}")
    text, image, tokens = task.get("text"), task.get("image"), task.get("tokens")
    if text is None and image is None and tokens is None:
        raise TaskError("task has no 'text', 'image' or 'tokens'")
    if text is not None and not isinstance(text, str):
        raise TaskError(f"'text' must be a string, got {type(text).__name__}")
    if image is not None and not isinstance(image, str):
        raise TaskError(f"'image' must be a string reference, got {type(image).__name__}")
    if tokens is not None:
        _check_tokens(tokens, text)
        if text is None:
            task["text"] = tokens_text(tokens)
    if "spans" in task:
        _check_spans(task["spans"], task.get("text"), tokens)
    for key in (INPUT_HASH, TASK_HASH):
        if key in task:
            task[key] = check_hash(task[key], key)
    answer = task.get("answer")
    if answer is not None and answer not in ANSWERS:
        raise TaskError(f"'answer' must be one of {', '.join(ANSWERS)}, got {answer!r}")
    return task


def check_token_indices(eg: dict) -> None:
    """TaskError unless the spans' token_start/token_end index the tokens and each token's bbox is four numbers."""
    tokens = eg.get("tokens")
    count = len(tokens) if isinstance(tokens, list) else None
    for j, span in enumerate(eg.get("spans") or []):
        for key in ("token_start", "token_end"):
            if key in span and (type(span[key]) is not int or (count is not None and not 0 <= span[key] < count)):
                raise TaskError(f"span {j} '{key}' is not a token index")
        if "token_start" in span and "token_end" in span and span["token_start"] > span["token_end"]:
            raise TaskError(f"span {j} ends before it starts")
    for j, tok in enumerate(tokens or []):
        box = tok.get("bbox") if isinstance(tok, dict) else None
        if box is not None and (not isinstance(box, list) or len(box) != 4
                                or not all(isinstance(v, (int, float)) for v in box)):
            raise TaskError(f"token {j} 'bbox' must be [x0, y0, x1, y1]")


def _check_tokens(tokens: Any, text: str | None) -> None:
    if not isinstance(tokens, list):
        raise TaskError("'tokens' must be a list")
    for i, tok in enumerate(tokens):  # hot in db-in: plain lookups, few isinstance calls
        try:
            token_text = tok["text"]
            if type(token_text) is not str or ("start" in tok and (type(tok["start"]) is not int
                                                                   or type(tok["end"]) is not int)):
                raise TypeError
            if "start" in tok:
                start, end = tok["start"], tok["end"]
                if not 0 <= start <= end:  # TypeError for offsets that are not numbers
                    raise TypeError
                if text is not None and text[start:end] != token_text:
                    raise TaskError(f"token {i} ({token_text!r}) does not match text[{start}:{end}]")
        except (TypeError, KeyError):
            raise TaskError(f"token {i} must be an object with a 'text' string and integer 'start' and 'end'") from None


def _check_spans(spans: Any, text: str | None, tokens: list[dict] | None) -> None:
    """Spans inside the text, and on the boundaries of the task's tokens when it has them."""
    if not isinstance(spans, list):
        raise TaskError("'spans' must be a list")
    offsets = token_offsets(tokens) if tokens is not None and spans else None
    for i, span in enumerate(spans):
        if not isinstance(span, dict):
            raise TaskError(f"span {i} must be an object")
        start, end = span.get("start"), span.get("end")
        if type(start) is not int or type(end) is not int:
            raise TaskError(f"span {i} needs integer 'start' and 'end'")
        if not 0 <= start < end or (text is not None and end > len(text)):
            raise TaskError(f"span {i} [{start}, {end}) is outside the text")
        if "label" in span:
            if not isinstance(span["label"], str):
                raise TaskError(f"span {i} 'label' must be a string")
        if tokens is not None:
            try:
                span_tokens(span, text or "", tokens, offsets)
            except TaskError as err:
                raise TaskError(f"span {i} {span_text(span, text or '')} {err}") from None


def span_text(span: dict, text: str) -> str:
    """A span as a message shows it: its text and offsets, e.g. ``'Apple' [0, 5)``."""
    start, end = span.get("start"), span.get("end")
    if type(start) is not int or type(end) is not int:
        return f"[{start!r}, {end!r})"
    return f"{text[start:end]!r} [{start}, {end})"


def token_offsets(tokens: list[dict]) -> tuple[dict[int, int], dict[int, int]]:
    """Token indices by start offset and by end offset (tokens without offsets have none)."""
    starts = {t["start"]: i for i, t in enumerate(tokens) if "start" in t}
    ends = {t["end"]: i for i, t in enumerate(tokens) if "end" in t}
    return starts, ends


def span_tokens(span: dict, text: str, tokens: list[dict], offsets: tuple[dict, dict] | None = None
                ) -> tuple[int, int]:
    """A span's first and last token by its code-point offsets, which token_start/end must agree with; else TaskError why."""
    starts, ends = offsets or token_offsets(tokens)
    start, end = span.get("start"), span.get("end")
    if type(start) is not int or type(end) is not int:
        raise TaskError("needs integer 'start' and 'end'")
    first, last = starts.get(start), ends.get(end)
    if first is None or last is None or first > last:
        where = [f"{verb} {_place(tokens, offset)}" for verb, offset, found in
                 (("starts", start, first), ("ends", end, last)) if found is None]
        raise TaskError("does not match token boundaries" + (f": {' and '.join(where)}" if where else "")
                        + _utf16_hint(text, start, end, starts, ends))
    given = span.get("token_start", first), span.get("token_end", last)
    if given != (first, last):
        raise TaskError(f"is tokens {first} to {last}, not token_start {given[0]} and token_end {given[1]}")
    return first, last


def _place(tokens: list[dict], offset: int) -> str:
    for tok in tokens:
        if tok.get("start", offset) < offset < tok.get("end", offset):
            return f"inside the token {tok['text']!r} [{tok['start']}, {tok['end']})"
    return "between tokens"


def _utf16_hint(text: str, start: int, end: int, starts: dict, ends: dict) -> str:
    """Why a span may be off: its offsets count UTF-16 code units (an emoji as two), not code points."""
    points, units = [], 0
    for i, char in enumerate(text):
        if units in (start, end):
            points.append(i)
        units += 2 if ord(char) > 0xFFFF else 1
    if units == end:
        points.append(len(text))
    if len(points) == 2 and points != [start, end] and points[0] in starts and points[1] in ends:
        return (f" (the offsets look like UTF-16 code units: in code points the span is "
                f"[{points[0]}, {points[1]}) {text[points[0]:points[1]]!r})")
    return ""


def tokens_text(tokens: list[dict]) -> str:
    """The text that a token list spells, honouring each token's ``ws``."""
    return "".join(t["text"] + (" " if t.get("ws", True) else "") for t in tokens).rstrip(" ")


def check_task_bytes(size: int) -> None:
    """TaskError when a task of ``size`` bytes is over MAX_TASK_BYTES."""
    if size > MAX_TASK_BYTES:
        raise TaskError(f"a task of {size / 2 ** 20:.1f} MB is over the limit of {MAX_TASK_BYTES // 2 ** 20} MB")


def check_token_chars(task: dict) -> dict:
    """TaskError when a token of the task (or, without tokens, a run in its text) is over MAX_TOKEN_CHARS."""
    tokens = task.get("tokens")
    if tokens is not None:
        longest = max((len(t["text"]) for t in tokens), default=0)
    else:
        long_run = _LONG_RUN.search(task.get("text") or "")
        longest = len(_RUN.match(task["text"], long_run.start()).group()) if long_run else 0
    if longest > MAX_TOKEN_CHARS:
        raise TaskError(f"a token of {longest:,} characters is over the limit of {MAX_TOKEN_CHARS:,}")
    return task


def add_tokens(nlp: Any, stream: Iterable[dict], on_failure: OnFailure | None = None) -> Iterator[dict]:
    """Add spaCy tokens (offsets, ``ws``) to text tasks, lazily; keep tokens a task already has.

    Spans get ``token_start``/``token_end``. A task with a span that does not fall on token
    boundaries, or over MAX_TASK_BYTES with its tokens, goes to ``on_failure`` and the stream goes
    on; without it, TaskError.
    """
    for task in tokenized(nlp, stream, on_failure):
        try:
            align_spans(task)
        except TaskError as err:
            skip(failure_at(task, err.reason), on_failure)
            continue
        yield task


def tokenized(nlp: Any, stream: Iterable[dict], on_failure: OnFailure | None = None) -> Iterator[dict]:
    """Tasks with spaCy tokens added where they have none, lazily; one over MAX_TASK_BYTES goes to ``on_failure``."""
    keep = _rules_with_spaces(nlp.tokenizer)
    for task in stream:
        if "tokens" not in task:
            try:
                task["tokens"] = _tokenize(nlp, task.get("text", ""), keep)
                if len(json.dumps(task, ensure_ascii=False).encode("utf8")) > MAX_TASK_BYTES:
                    raise TaskError(TOO_BIG_WITH_TOKENS)
            except TaskError as err:
                skip(failure_at(task, err.reason), on_failure)
                continue
        yield task


def _tokenize(nlp: Any, text: str, keep: tuple[str, ...]) -> list[dict]:
    """spaCy's tokens of the text, made piece by piece, cut at spaces where spaCy splits too (not inside ``keep``)."""
    budget = MAX_TASK_BYTES - len(text.encode("utf8"))
    tokens: list[dict] = []
    for offset, piece in _pieces(text, keep):
        if tokens:
            tokens[-1]["ws"] = True  # the space the cut fell on
        for tok in nlp.tokenizer(piece):
            start = offset + tok.idx
            tokens.append({"text": tok.text, "start": start, "end": start + len(tok.text), "id": len(tokens),
                           "ws": bool(tok.whitespace_)})
        if len(tokens) * MIN_TOKEN_JSON > budget:  # refused before the rest is tokenized
            raise TaskError(TOO_BIG_WITH_TOKENS)
    return tokens


def _rules_with_spaces(tokenizer: Any) -> tuple[str, ...]:
    """The tokenizer's exceptions that hold a space (Spanish ``EE. UU.``): a cut must not fall inside one."""
    return tuple(rule for rule in getattr(tokenizer, "rules", None) or {} if " " in rule.strip())


def _pieces(text: str, keep: tuple[str, ...]) -> Iterator[tuple[int, str]]:
    start = pos = 0
    while (cut := _CUT.search(text, max(pos, start + PIECE_CHARS))) is not None:
        at, pos = cut.start(), cut.end()
        if any(text.find(rule, at - len(rule) + 1, at + len(rule) - 1) >= 0 for rule in keep):
            continue
        yield start, text[start:at]
        start = pos
    yield start, text[start:]


def align_spans(task: dict) -> None:
    """Give every span of a tokenized task its ``token_start``/``token_end``; TaskError for one off the tokens."""
    spans = task.get("spans")
    if not spans:
        return
    text, tokens = task.get("text", ""), task["tokens"]
    offsets = token_offsets(tokens)
    for span in spans:
        try:
            span["token_start"], span["token_end"] = span_tokens(span, text, tokens, offsets)
        except TaskError as err:
            raise TaskError(f"span {span_text(span, text)} {err}") from None
