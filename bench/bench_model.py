"""The model in the loop: scoring throughput of the ner.teach stream, and answer-to-next-batch latency via the API.

1. Throughput: TeachModel.suggest (docs from task tokens, beam_ner predict, scored_ents, span tasks)
   on CoNLL-2003 sentences of 25-35 tokens and on FUNSD pages (boxed tokens, layout model), pinned
   to one core; sentences (or pages) and tokens per second of CPU time and of wall time.
2. Latency: ner.teach served over real HTTP (vnerteach.server.serve in a thread); a client answers
   each batch of 10 questions after a think time, then asks for the next batch; the time from
   sending the answers to receiving the next batch, while the model updates in the background.

Usage: python bench/bench_model.py [--rounds 80] [--think 0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from al_sim import conll_sentences, funsd_forms, task_of  # noqa: E402
from vnerteach.model import TeachModel  # noqa: E402

from data import data_dir  # noqa: E402

DATA = data_dir()


def throughput(tasks: list[dict], labels: list[str], what: str, repeat: int = 1) -> None:
    model = TeachModel.load("blank:en", labels)
    list(model.suggest(iter([dict(tasks[0])])))  # build the model (and warm up)
    n_tokens = sum(len(t["tokens"]) for t in tasks) * repeat
    wall, cpu = time.perf_counter(), time.process_time()
    n = 0
    for _ in range(repeat):
        for _score, _task in model.suggest(dict(t) for t in tasks):
            n += 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    count = len(tasks) * repeat
    print(f"{what:<34} {count:>5} inputs {n_tokens / count:6.1f} tok/input  beam {model.nlp.get_pipe('ner').cfg['beam_width']}  "
          f"{count / cpu:7.1f} inputs/CPU s {n_tokens / cpu:8.0f} tokens/CPU s  "
          f"(wall: {count / wall:7.1f} inputs/s)  {n} candidates", flush=True)


def latency(rounds: int, think: float) -> None:
    import tempfile

    from vnerteach.controller import Controller
    from vnerteach.server import bind, make_app
    from vnerteach.store import connect

    sentences = [s for s in conll_sentences(DATA / "conll2003" / "eng.train") if len(s[0]) >= 8][:6000]
    gold = {" ".join(w): e for w, e in sentences}
    tmp = Path(tempfile.mkdtemp())
    source = tmp / "conll.jsonl"
    source.write_text("".join(json.dumps({"text": " ".join(w)}) + "\n" for w, _ in sentences))
    from vnerteach.recipes.teach import ner_teach

    components = ner_teach("bench", "blank:en", str(source), label=["LOC", "MISC", "ORG", "PER"])
    model = components["update"].__self__
    controller = Controller(connect(f"sqlite:///{tmp / 'bench.db'}"), components)
    server, _notes = bind(make_app(controller), "127.0.0.1", 0)  # the threaded server that serve() runs
    controller.start()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    sys.path.insert(0, str(ROOT / "tests"))
    from web_fixtures import APP_HEADER, app_key

    headers = {APP_HEADER: app_key(url) or ""}

    def call(method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url + path, data=data, method=method,
                                     headers={**headers, "Content-Type": "application/json"} if data else headers)
        with urllib.request.urlopen(req, timeout=30) as response:
            return json.loads(response.read())

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
    server.shutdown()
    server.server_close()
    controller.close()
    ms = sorted(1000 * t for t in times)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    print(f"answer -> next batch over HTTP: {len(ms)} rounds of 10 answers, think {think} s: "
          f"p50 {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, max {ms[-1]:.0f} ms; "
          f"{model.updates} background updates done during the run ({answered} answers)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=80)
    parser.add_argument("--think", type=float, default=0.5)
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    sentences = [s for s in conll_sentences(DATA / "conll2003" / "eng.train") if 25 <= len(s[0]) <= 35][:600]
    throughput([task_of(w, e) for w, e in sentences], ["LOC", "MISC", "ORG", "PER"], "CoNLL sentences (25-35 tokens)")
    forms = funsd_forms(DATA / "funsd" / "training_data")[:40]
    throughput(forms, ["ANSWER", "HEADER", "QUESTION"], "FUNSD pages (boxes, layout model)")
    if not args.skip_latency:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        latency(args.rounds, args.think)


if __name__ == "__main__":
    main()
