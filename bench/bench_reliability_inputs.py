"""Bad inputs tried against the real commands and server: how many ended in a traceback (goal 0).

Usage: python bench/bench_reliability_inputs.py

Each probe runs `python -m vnerteach ...` in a fresh folder (or sends a request to a served
recipe) and is judged: a clear one-line error and a non-zero exit (or a 4xx with a JSON reason)
passes; a traceback, bottle's HTML error page or a zero exit for bad input is a defect.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


import pymupdf  # noqa: E402

import common  # noqa: F401 (the repository root on sys.path, for tests.helpers)
from tests.helpers.web import ServedRecipe, app_key, free_port, raw_http

BAD_LINES = {
    "invalid JSON": '{"text": "a",',
    "not an object": '["a"]',
    "no text": '{"meta": {}}',
    "text not a string": '{"text": 5}',
    "lone surrogate": '{"text": "a \\ud800 b"}',
    "lone surrogate in meta": '{"text": "a", "meta": {"x": "\\udfff"}}',
    "nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "NaN": '{"text": "a", "meta": {"x": NaN}}',
    "Infinity": '{"text": "a", "meta": {"x": Infinity}}',
    "hash over 64 bits": '{"text": "ab", "_input_hash": 99999999999999999999, "_task_hash": 1}',
    "hash a float": '{"text": "ab", "_input_hash": 1, "_task_hash": 1.5}',
    "hash a boolean": '{"text": "ab", "_input_hash": true, "_task_hash": 1}',
    "boolean offset": '{"text": "ab", "spans": [{"start": true, "end": 2, "label": "X"}]}',
    "boolean token offset": '{"text": "ab", "tokens": [{"text": "a", "start": false, "end": 1}]}',
    "span outside the text": '{"text": "ab", "spans": [{"start": 1, "end": 9, "label": "X"}]}',
    "span ends before it starts": '{"text": "ab", "spans": [{"start": 2, "end": 1, "label": "X"}]}',
    "span off its tokens": '{"text": "Apple pie", "tokens": [{"text": "Apple", "start": 0, "end": 5, "id": 0},'
                           ' {"text": "pie", "start": 6, "end": 9, "id": 1}], "spans": [{"start": 1, "end": 6,'
                           ' "label": "X"}]}',
    "token text mismatch": '{"text": "ab", "tokens": [{"text": "x", "start": 0, "end": 1}]}',
    "label not a string": '{"text": "ab", "spans": [{"start": 0, "end": 1, "label": 3}]}',
    "answer unknown": '{"text": "ab", "answer": "maybe"}',
    "not UTF-8": None,  # written as bytes below
}

UNUSABLE = [  # accepted by db-in (no tokens to check against), then unusable for training and export
    {"text": "Apple pie", "spans": [{"start": 1, "end": 6, "label": "ORG"}], "answer": "accept"},
    {"text": "😀 Apple pie", "spans": [{"start": 3, "end": 8, "label": "ORG"}], "answer": "accept"},
    {"text": "ภาษาไทยง่ายมาก", "spans": [{"start": 2, "end": 5, "label": "ORG"}], "answer": "accept"},
    {"text": "Apple Inc buys", "spans": [{"start": 0, "end": 9, "label": "ORG"},
                                          {"start": 6, "end": 14, "label": "ORG"}], "answer": "accept"},
]


def run(folder: Path, *args, input: str | bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "VNERTEACH_DB": str(folder / "v.db"), "VNERTEACH_HOME": str(folder / "home")}
    return subprocess.run([sys.executable, "-m", "vnerteach", *map(str, args)], capture_output=True, cwd=folder,
                          env=env, input=input.encode() if isinstance(input, str) else input)


def judge(done: subprocess.CompletedProcess, want_failure: bool = True) -> str | None:
    err = done.stderr.decode(errors="replace")
    if "Traceback" in err:
        return "traceback"
    if want_failure and done.returncode == 0:
        return "exit 0"
    return None


def cli_probes(tmp: Path) -> list[tuple[str, str | None]]:
    results = []
    for name, line in BAD_LINES.items():
        folder = Path(tempfile.mkdtemp(dir=tmp))
        src = folder / "in.jsonl"
        src.write_bytes(b'{"text": "fine"}\n' + (line.encode() if line is not None else b'{"text": "caf\xe9"}') + b"\n")
        for flag in ("--rehash", "--no-rehash"):
            results.append((f"db-in {flag}: {name}", judge(run(folder, "db-in", "news", src, flag))))
    folder = Path(tempfile.mkdtemp(dir=tmp))
    src = folder / "unusable.jsonl"
    src.write_text("".join(json.dumps(t) + "\n" for t in UNUSABLE), encoding="utf8")
    run(folder, "db-in", "news", src)
    for args in (["ner.batch-train", "news", "-o", folder / "model", "-n", "1", "--eval-split", "0"],
                 ["db-out", "news", folder / "out.spacy", "--format", "spacy"],
                 ["db-out", "news", "--format", "conll"]):
        results.append((f"unusable spans: {args[0]} {' '.join(map(str, args[2:4]))}", judge(run(folder, *args), False)))
        results.append((f"unusable spans --strict: {args[0]}", judge(run(folder, *args, "--strict"))))
    for args, name in [
        (["db-out", "missing"], "db-out of a missing dataset"),
        (["db-out", "news", "/nonexistent/x.jsonl"], "db-out into a missing folder"),
        (["db-out", "news", "/dev/full"], "db-out into /dev/full"),
        (["stats", "--db", "/nonexistent/v.db"], "a database in a missing folder"),
        (["stats", "--db", "mysql://h/db"], "an unsupported database URL"),
        (["stats", "--db", "postgresql://u:hunter2@127.0.0.1:1/x"], "a PostgreSQL server that is not there"),
        (["ner.manual", "x", "blank:zz", src, "--label", "A"], "an unknown language"),
        (["ner.manual", "x", "blank:en", src], "no --label"),
        (["ner.batch-train", "news", "-o", folder / "m", "-n", "0"], "--n-iter 0"),
        (["ner.evaluate", folder / "no-model", "news"], "a model folder that is not there"),
        (["ocr", folder / "nothing-here"], "a source that is not there"),
        (["ocr", src, "--dpi", "5"], "--dpi 5"),
        (["ocr", src, "--preprocess", "sharpen"], "an unknown preprocessing step"),
    ]:
        results.append((name, judge(run(folder, *args))))
    results.append(("db-out into /dev/full (stdout)", _dev_full(folder)))
    junk = folder / "junk.db"
    junk.write_bytes(os.urandom(4096))
    results.append(("a database that is not SQLite", judge(run(folder, "stats", "--db", junk))))
    return results


def _dev_full(folder: Path) -> str | None:
    env = {**os.environ, "VNERTEACH_DB": str(folder / "v.db"), "VNERTEACH_HOME": str(folder / "home")}
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "vnerteach", "db-out", "news"], stdout=full,
                              stderr=subprocess.PIPE, env=env, cwd=folder)
    return judge(done)


def document_probes(tmp: Path) -> list[tuple[str, str | None]]:
    folder = Path(tempfile.mkdtemp(dir=tmp))
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "truncated.pdf").write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog")
    (folder / "not-a.png").write_bytes(b"GIF89a" + os.urandom(100))
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Locked total 9.45")
    doc.save(folder / "locked.pdf", encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="pw", owner_pw="o")
    doc = pymupdf.open()
    for i in range(2):
        doc.new_page().insert_text((72, 72), f"Hello page {i}")
    doc.save(folder / "tree.pdf")
    doc = pymupdf.open(folder / "tree.pdf")
    pages = int(doc.xref_get_key(doc.pdf_catalog(), "Pages")[1].split()[0])
    foreign = doc.get_new_xref()
    doc.update_object(foreign, "<< /Type /Foo >>")
    doc.xref_set_key(pages, "Kids", doc.xref_get_key(pages, "Kids")[1][:-1] + f" {foreign} 0 R]")
    doc.xref_set_key(pages, "Count", "3")
    doc.saveIncr()
    results = []
    done = run(folder, "ocr", folder, "--ocr", "never")
    stdout_ok = all(_is_json(line) for line in done.stdout.decode().splitlines())
    results.append(("ocr of a folder of damaged files", judge(done, False) or (None if stdout_ok else "stdout not JSONL")))
    results.append(("ocr --strict of damaged files", judge(run(folder, "ocr", folder, "--ocr", "never", "--strict"))))
    results.append(("db-in of an encrypted PDF without --password", judge(run(folder, "db-in", "d", folder / "locked.pdf"))))
    results.append(("db-in of an encrypted PDF, wrong --password",
                    judge(run(folder, "db-in", "d", folder / "locked.pdf", "--password", "no"))))
    return results


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
        return True
    except ValueError:
        return False


def server_probes(tmp: Path) -> list[tuple[str, str | None]]:
    folder = Path(tempfile.mkdtemp(dir=tmp))
    src = folder / "t.jsonl"
    src.write_text('{"text": "hello world"}\n', encoding="utf8")
    env = {"VNERTEACH_DB": str(folder / "v.db"), "VNERTEACH_HOME": str(folder / "home")}
    served = ServedRecipe(["ner.manual", "news", "blank:en", src, "--label", "ORG", "--access-token", "tok"], env,
                          free_port(), headers={"X-Access-Token": "tok"})
    key = app_key(served.url).encode()
    head = b"Host: 127.0.0.1\r\nX-Access-Token: tok\r\nX-Vnerteach-App: " + key + b"\r\n"
    answer = '{"text": "ab", "answer": "accept", "_input_hash": 1, "_task_hash": 2%s}'
    bodies = {
        "invalid JSON": b'{"session": "s", "answers": [',
        "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
        "NaN": ('{"session": "s", "answers": [%s]}' % (answer % ', "x": NaN')).encode(),
        "not UTF-8": b'{"session": "s", "answers": [{"text": "caf\xe9"}]}',
        "lone surrogate": ('{"session": "s", "answers": [%s]}' % (answer % ', "meta": "\\ud800"')).encode(),
        "boolean offset": ('{"session": "s", "answers": [%s]}'
                           % (answer % ', "spans": [{"start": true, "end": 1}]')).encode(),
        "hash a boolean": ('{"session": "s", "answers": [%s]}'
                           % answer.replace('"_input_hash": 1', '"_input_hash": true') % "").encode(),
        "answers not a list": b'{"session": "s", "answers": 5}',
        "session not a string": b'{"session": 5, "answers": []}',
    }
    results = []
    try:
        for name, body in bodies.items():
            status, reply = raw_http(served.port, b"POST /api/answers HTTP/1.0\r\n" + head + b"Content-Type: "
                                 b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            ok = status in (200, 400) and _is_json(reply.decode(errors="replace"))
            refused = status == 400 or json.loads(reply).get("refused") if ok else False
            results.append((f"server: {name}", None if ok and refused else f"HTTP {status}"))
        for name, extra in [("a token that is not UTF-8", b"X-Access-Token: \xff\xfe\r\n"),
                            ("an app key that is not UTF-8", b"X-Vnerteach-App: \xff\r\n")]:
            request = head.replace(b"X-Access-Token: tok\r\n", b"") if b"Token" in extra else \
                head.replace(b"X-Vnerteach-App: " + key + b"\r\n", b"")
            status, reply = raw_http(served.port, b"GET /api/project HTTP/1.0\r\n" + request + extra + b"\r\n")
            results.append((f"server: {name}", None if status in (401, 403) and _is_json(reply.decode()) else
                            f"HTTP {status}"))
        for name, path in [("image key with ..", b"/api/image/..%2f..%2fetc%2fpasswd"),
                           ("questions n not a number", b"/api/questions?n=lots")]:
            status, reply = raw_http(served.port, b"GET " + path + b" HTTP/1.0\r\n" + head + b"\r\n")
            results.append((f"server: {name}", None if 400 <= status < 500 else f"HTTP {status}"))
    finally:
        code, _, err = served.stop()
    results.append(("server: exit after the probes", "traceback" if "Traceback" in err else None))
    return results


def main() -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        results = cli_probes(Path(tmp)) + document_probes(Path(tmp)) + server_probes(Path(tmp))
    defects = [(name, why) for name, why in results if why]
    print(f"python bench/bench_reliability_inputs.py   ({time.perf_counter() - started:.0f} s)")
    print(f"bad inputs tried: {len(results)}; tracebacks: {sum(why == 'traceback' for _, why in defects)}; "
          f"other defects: {sum(why != 'traceback' for _, why in defects)} (goal 0 and 0)")
    for name, why in defects:
        print(f"  {why}: {name}")


if __name__ == "__main__":
    main()
