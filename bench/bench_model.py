"""The model in the loop: scoring throughput of the ner.teach stream, and answer-to-next-batch latency via the API.

1. Throughput: candidates.suggester.Suggester (docs from task tokens, beam_ner predict, scored_ents, span tasks)
   on CoNLL-2003 sentences of 25-35 tokens and on FUNSD pages (boxed tokens, layout model), pinned
   to one core; sentences (or pages) and tokens per second of CPU time and of wall time.
2. Latency: ner.teach served over real HTTP (vnerteach.web.server.serve in a thread); a client answers
   each batch of 10 questions after a think time, then asks for the next batch; the time from
   sending the answers to receiving the next batch, while the model updates in the background.
3. ner.correct's stream (issue 14 point 2): scoring throughput of TeachModel.correct (predict_tasks
   under the look-ahead, background threads included in the CPU time), the median of --runs runs;
   and answer-to-next-question over HTTP with --lookahead inputs scored in the background: a client
   answers one question with its gold annotation after a think time and asks for the next one.

Usage: python bench/bench_model.py [--rounds 80] [--think 0.5] [--runs 5] [--lookahead 32,1000] [--only correct] [--skip-throughput]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
import urllib.request
from pathlib import Path

from common import CONLL_LABELS, FUNSD_LABELS, conll_sentences, data_dir, funsd_forms, task_of
from vnerteach.teach.suggester import Suggester
from vnerteach.teach.model import TeachModel, TeachSettings

DATA = data_dir()


def throughput(tasks: list[dict], labels: list[str], what: str, runs: int = 1) -> None:
    """ner.teach's stream (a Suggester of the model) over the inputs, ``runs`` times on fresh models; the median run."""
    rates = []
    for run in range(runs):
        model = TeachModel.load("blank:en", labels, TeachSettings(seed=run))
        suggest = Suggester(model)
        list(suggest(iter([dict(tasks[0])])))  # build the model (and warm up)
        n_tokens = sum(len(t["tokens"]) for t in tasks)
        wall, cpu = time.perf_counter(), time.process_time()
        n = sum(1 for _ in suggest(dict(t) for t in tasks))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        count = len(tasks)
        rates.append(count / cpu)
        print(f"{what:<34} {count:>5} inputs {n_tokens / count:6.1f} tok/input  beam {model.nlp.get_pipe('ner').cfg['beam_width']}  "
              f"{count / cpu:7.1f} inputs/CPU s {n_tokens / cpu:8.0f} tokens/CPU s  "
              f"(wall: {count / wall:7.1f} inputs/s)  {n} candidates", flush=True)
    if runs > 1:
        print(f"{what:<34} ner.teach scoring, median of {runs}: {statistics.median(rates):.1f} inputs/CPU s "
              f"(min {min(rates):.1f}, max {max(rates):.1f})", flush=True)


def correct_throughput(tasks: list[dict], labels: list[str], what: str, runs: int) -> None:
    """TeachModel.correct over the whole input (look-ahead as large as it, so every input is scored once)."""
    rates = []
    for run in range(runs):
        model = TeachModel.load("blank:en", labels, TeachSettings(seed=run))
        model.predict_tasks([dict(tasks[0])])  # build the model (and warm up)
        wall, cpu = time.perf_counter(), time.process_time()
        stream = model.correct((dict(t) for t in tasks), lookahead=len(tasks), diversity=False)
        n = sum(1 for _ in stream)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rates.append(n / cpu)
        print(f"  run {run + 1}: {n} inputs  {n / cpu:7.1f} inputs/CPU s  (wall: {n / wall:7.1f} inputs/s)", flush=True)
    print(f"{what:<34} ner.correct scoring, median of {runs}: {statistics.median(rates):.1f} inputs/CPU s "
          f"(min {min(rates):.1f}, max {max(rates):.1f})", flush=True)


def correct_latency(rounds: int, think: float, lookahead: int) -> None:
    """ner.correct over HTTP: answer one question (gold), ask for the next, with the look-ahead scored in the background."""
    import tempfile

    from vnerteach.loop.controller import Controller
    from vnerteach.web.server import make_app
    from vnerteach.web.wsgi_server import bind
    from vnerteach.store import connect

    sentences = [s for s in conll_sentences(DATA / "conll2003" / "eng.train") if len(s[0]) >= 8][:6000]
    gold = {" ".join(w): e for w, e in sentences}
    tmp = Path(tempfile.mkdtemp())
    source = tmp / "conll.jsonl"
    source.write_text("".join(json.dumps({"text": " ".join(w)}) + "\n" for w, _ in sentences))
    from vnerteach.recipes.teach import ner_correct

    components = ner_correct("bench", "blank:en", str(source), label=CONLL_LABELS, lookahead=lookahead)
    model = components["update"].__self__
    ranked = components["stream"]
    controller = Controller(connect(f"sqlite:///{tmp / 'bench.db'}"), components)
    server, _notes = bind(make_app(controller), "127.0.0.1", 0)
    controller.start()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    call = _client(f"http://127.0.0.1:{server.server_address[1]}")
    begun, queue = time.perf_counter(), []
    while not queue:  # as the app does: ask again until the first questions are scored
        queue = call("GET", "/api/questions?n=3")["tasks"]
    first = time.perf_counter() - begun
    times, empty = [], 0
    for _ in range(rounds):
        time.sleep(think)
        while not queue:
            queue = call("GET", "/api/questions?n=1")["tasks"]
        t = queue.pop(0)
        tokens = t["tokens"]
        spans = [{"start": tokens[s]["start"], "end": tokens[e - 1]["end"], "token_start": s, "token_end": e - 1,
                  "label": lab} for s, e, lab in gold.get(t["text"], [])]
        start = time.perf_counter()
        call("POST", "/api/answers", {"session": t["_session_id"], "answers": [{**t, "spans": spans, "answer": "accept"}]})
        got = call("GET", "/api/questions?n=1")["tasks"]
        times.append(time.perf_counter() - start)
        empty += not got
        queue += got
    _stop(server, controller)
    print(f"ner.correct answer -> next question over HTTP, --lookahead {lookahead}: first questions after {first:.1f} s "
          f"(blank model made on the first task); {len(times)} rounds, think {think} s: "
          f"{_percentiles(times)}; {empty} empty answers; "
          f"{model.updates} background updates; {ranked.scored} scorings in the background (re-scoring included)",
          flush=True)


def _client(url: str):
    from tests.helpers.web import APP_HEADER, app_key

    headers = {APP_HEADER: app_key(url) or ""}

    def call(method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url + path, data=data, method=method,
                                     headers={**headers, "Content-Type": "application/json"} if data else headers)
        with urllib.request.urlopen(req, timeout=30) as response:
            return json.loads(response.read())

    return call


def latency(rounds: int, think: float) -> None:
    import tempfile

    from vnerteach.loop.controller import Controller
    from vnerteach.web.server import make_app
    from vnerteach.web.wsgi_server import bind
    from vnerteach.store import connect

    sentences = [s for s in conll_sentences(DATA / "conll2003" / "eng.train") if len(s[0]) >= 8][:6000]
    gold = {" ".join(w): e for w, e in sentences}
    tmp = Path(tempfile.mkdtemp())
    source = tmp / "conll.jsonl"
    source.write_text("".join(json.dumps({"text": " ".join(w)}) + "\n" for w, _ in sentences))
    from al_sim import frequent_patterns
    from vnerteach.recipes.teach import ner_teach

    patterns = tmp / "patterns.jsonl"  # a blank model starts from patterns (ner.teach refuses to start from nothing)
    patterns.write_text("".join(json.dumps(p) + "\n" for p in
                                frequent_patterns([task_of(w, e) for w, e in sentences], 10)))
    components = ner_teach("bench", "blank:en", str(source), label=CONLL_LABELS, patterns=patterns)
    model = components["update"].__self__
    controller = Controller(connect(f"sqlite:///{tmp / 'bench.db'}"), components)
    server, _notes = bind(make_app(controller), "127.0.0.1", 0)  # the threaded server that serve() runs
    controller.start()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    call = _client(f"http://127.0.0.1:{server.server_address[1]}")
    tasks = []
    while not tasks:  # as the app does: ask again until the first questions are scored (a blank model is made first)
        tasks = call("GET", "/api/questions?n=10")["tasks"]
    times, answered = [], 0
    for _ in range(rounds):
        time.sleep(think)  # the annotator reads and decides
        answers = []
        for t in tasks:
            span = t["spans"][0]
            words = t["text"]
            ents = gold.get(words, [])
            tokens = t["tokens"]
            ok = any(tokens[s]["start"] == span["start"] and tokens[e - 1]["end"] == span["end"] and lab == span["label"]
                     for s, e, lab in ents)
            answers.append({**t, "answer": "accept" if ok else "reject"})
        start = time.perf_counter()
        call("POST", "/api/answers", {"session": tasks[0]["_session_id"], "answers": answers})
        tasks = call("GET", "/api/questions?n=10")["tasks"]
        times.append(time.perf_counter() - start)
        answered += len(answers)
        if not tasks:
            break
    _stop(server, controller)
    print(f"answer -> next batch over HTTP: {len(times)} rounds of 10 answers, think {think} s: "
          f"{_percentiles(times)}; "
          f"{model.updates} background updates done during the run ({answered} answers)", flush=True)


def _stop(server, controller) -> None:
    server.shutdown()
    server.server_close()
    controller.close()


def _percentiles(times: list[float]) -> str:
    """p50, p95 and max of request times in seconds, as milliseconds."""
    ms = sorted(1000 * t for t in times)
    return f"p50 {statistics.median(ms):.0f} ms, p95 {ms[int(0.95 * (len(ms) - 1))]:.0f} ms, max {ms[-1]:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=80)
    parser.add_argument("--think", type=float, default=0.5)
    parser.add_argument("--runs", type=int, default=5, help="runs of the sentence scoring (the median is reported)")
    parser.add_argument("--lookahead", default="32,1000",
                        help="ner.correct's --lookahead in the latency part, one run each (32: the old --window's size, the baseline)")
    parser.add_argument("--only", choices=("teach", "correct"), default=None)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    sentences = [s for s in conll_sentences(DATA / "conll2003" / "eng.train") if 25 <= len(s[0]) <= 35][:600]
    conll = [task_of(w, e) for w, e in sentences]
    if args.only != "correct" and not args.skip_throughput:
        throughput(conll, CONLL_LABELS, "CoNLL sentences (25-35 tokens)", args.runs)
        forms = funsd_forms()[:40]
        throughput(forms, FUNSD_LABELS, "FUNSD pages (boxes, layout model)")
    if args.only != "teach" and not args.skip_throughput:
        correct_throughput(conll, CONLL_LABELS, "CoNLL sentences (25-35 tokens)", args.runs)
    if not args.skip_latency:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        if args.only != "correct":
            latency(args.rounds, args.think)
        if args.only != "teach":
            for size in args.lookahead.split(","):
                correct_latency(args.rounds, args.think, int(size))


if __name__ == "__main__":
    main()
