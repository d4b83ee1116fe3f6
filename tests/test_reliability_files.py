"""Reliability (issue 11): a file or model a user keeps survives a SIGKILL at any moment of its writing, old or new, whole."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vnerteach.store import connect

from helpers.train import manual_tasks

pytestmark = pytest.mark.reliability
TESTS = Path(__file__).parent
WATCHED = {"open", "os.rename", "os.remove", "os.rmdir", "os.mkdir", "shutil.rmtree", "shutil.move", "os.listdir",
           "os.scandir", "os.chmod", "os.truncate", "ctypes.call_function"}


# --- a save killed at each of its file operations (run in a subprocess: python -c ... drive(spec)) --------------


def tree(folder: Path) -> dict[str, str] | None:
    """SHA-256 of every file under folder by relative path; None if there is no folder."""
    if not folder.is_dir():
        return None
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _saver(parent: str, kill_at: int | None, report: int, run) -> None:
    """In a forked child: run the save, stopping itself just before its kill_at-th file operation under parent."""
    count = 0

    def hook(event: str, args: tuple) -> None:
        nonlocal count
        if event in WATCHED and parent in repr(args):
            count += 1
            if count == kill_at:
                os.kill(os.getpid(), signal.SIGSTOP)  # the parent's SIGKILL lands here

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    code = 0
    sys.addaudithook(hook)
    try:
        run()
    except SystemExit as exit_:
        code = exit_.code or 0
    except BaseException:
        code = 99
    os.write(report, json.dumps({"events": count, "code": code}).encode())
    os._exit(0)


def _trial(parent: Path, kill_at: int | None, run) -> dict:
    """Fork a saver; SIGKILL it when it stops at its kill point; what it reported (nothing if killed)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _saver(str(parent), kill_at, w, run)
    os.close(w)
    _, status = os.waitpid(pid, os.WUNTRACED)
    killed = os.WIFSTOPPED(status)
    if killed:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    with os.fdopen(r) as f:
        reported = f.read()
    return {"killed": killed, **(json.loads(reported) if reported else {})}


def drive(spec: dict) -> None:
    """Save a model with spec's way (batch-train or model-out) into a fresh or existing folder, killed at every operation."""
    import spacy

    from vnerteach import cli, files
    from vnerteach.teach.model import TeachModel
    from vnerteach.nlp.pipeline import load_pipeline

    work, refs = Path(spec["work"]), Path(spec["refs"])
    target = work / "model"
    if spec.get("two_renames"):
        files._exchange = None  # as on a system without renameat2(RENAME_EXCHANGE)
    if spec["way"] == "batch-train":
        def run() -> None:
            cli.main(["ner.batch-train", "new", "-o", str(target), "-n", "1", "--eval-split", "0", "--db", spec["db"]])
    else:
        model = TeachModel(load_pipeline(str(refs / "new")), ["PERSON", "CITY"])

        def run() -> None:
            model.to_disk(target)

    def reset() -> None:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        if spec["existing"]:
            shutil.copytree(refs / "old", target)

    reset()
    dry = _trial(work, None, run)
    assert dry["code"] == 0 and not dry["killed"], dry
    old, new = tree(refs / "old"), tree(target)
    spacy.load(refs / "old"), spacy.load(target)  # so a tree equal to one of these loads
    results = []
    n = dry["events"]
    every = range(1, n + 1)
    for k in every if not spec["sample"] else sorted({*every[::max(1, n // spec["sample"])], *every[-4:]}):
        reset()
        trial = _trial(work, k, run)
        tidied = bool(spec["two_renames"]) and not target.exists()
        if tidied:
            files.tidy(target)  # what the next write does first
        state = tree(target)
        found = "old" if state == old else "new" if state == new else "missing" if state is None else "mixed"
        try:
            loads = found in ("old", "new") or bool(spacy.load(target))
        except Exception:
            loads = False
        results.append({"kill_at": k, "killed": trial["killed"], "found": found, "loads": loads, "tidied": tidied})
    reset()
    _trial(work, n - 2, run)
    again = _trial(work, None, run)
    leftovers = [p.name for p in work.iterdir() if p.name != "model"]
    print(json.dumps({"events": n, "results": results, "again": tree(target) == new and again["code"] == 0,
                      "leftovers": leftovers}))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A database with datasets 'old' and 'new', and the models ner.batch-train trains on each (refs/old, refs/new)."""
    root = tmp_path_factory.mktemp("models")
    db = root / "train.db"
    with connect(str(db)) as store:
        store.add_examples(manual_tasks(30, seed=1), ["old"])
        store.add_examples(manual_tasks(30, seed=2), ["new"])
    (root / "refs").mkdir()
    for name in ("old", "new"):
        done = subprocess.run([sys.executable, "-m", "vnerteach", "ner.batch-train", name, "-o", str(root / "refs" / name),
                               "-n", "1", "--eval-split", "0", "--db", str(db)], capture_output=True, text=True,
                              env={**os.environ, "VNERTEACH_HOME": str(root / "home")})
        assert done.returncode == 0, done.stderr
    return root


@pytest.mark.slow
@pytest.mark.parametrize("way,existing,two_renames", [
    ("batch-train", True, False), ("batch-train", False, False), ("model-out", True, False), ("model-out", True, True)],
    ids=["batch-train-existing", "batch-train-new", "model-out-existing", "model-out-two-renames"])
def test_a_model_save_killed_at_any_file_operation_leaves_the_old_or_the_new_model(models, tmp_path, way, existing,
                                                                                  two_renames):
    # ner.batch-train trains (~1 s) before each kill: 8 kill points spread over the save and its last 4 operations;
    # the --model-out save is killed at every one of its file operations
    spec = {"work": str(tmp_path / "work"), "refs": str(models / "refs"), "db": str(models / "train.db"),
            "way": way, "existing": existing, "two_renames": two_renames, "sample": 8 if way == "batch-train" else 0}
    code = f"import sys; sys.path.insert(0, {str(TESTS)!r}); from test_reliability_files import drive; drive({spec!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "VNERTEACH_HOME": str(tmp_path / "home")})
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    results = report["results"]
    assert report["events"] >= 10 and len(results) >= 8 and all(r["killed"] for r in results)
    whole = ("old", "new") if existing else ("new",)
    bad = [r for r in results if not (r["found"] in whole and r["loads"] or r["found"] == "missing" and not existing)]
    assert not bad, f"{len(bad)} of {len(results)} kill points left a broken model: {bad}"
    assert {r["found"] for r in results} == ({"old", "new"} if existing else {"missing", "new"})
    assert any(r["tidied"] for r in results) == two_renames  # the kill between the two renames was among them
    assert report["again"] and report["leftovers"] == []  # the next save tidies what a killed one left


# --- db-out -o and ocr -o killed while writing: the old file (or none) or the whole new one --------------------


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _written(target: Path, before: tuple | None) -> int:
    """Bytes of new output so far: in target once it changed, or in a temporary sibling."""
    sizes = []
    for sibling in target.parent.glob(f".{target.name}.*"):
        try:
            sizes.append(sibling.stat().st_size)
        except FileNotFoundError:
            pass
    now = _stat(target)
    if now is not None and now != before:
        sizes.append(now[2])
    return max(sizes, default=0)


def kill_while_writing(cmd: list[str], target: Path, at: int) -> int:
    """Run cmd; SIGKILL it once ``at`` bytes of its new output are written; its exit status."""
    before = _stat(target)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None:
            if _written(target, before) >= at:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.001)
    finally:
        proc.wait(timeout=60)
    return proc.returncode


@pytest.fixture(scope="module")
def big_db(tmp_path_factory) -> Path:
    """A dataset 'big' whose JSONL export takes a few hundred milliseconds to write (~18 MB), and 'small'."""
    from vnerteach.tasks import set_hashes

    db = tmp_path_factory.mktemp("big") / "big.db"
    with connect(str(db)) as store:
        store.add_examples((set_hashes({"text": f"Example {i} about Paris and Alice Baker, long enough to matter.",
                                        "answer": "accept"}) for i in range(100_000)), ["big"])
        store.add_examples(manual_tasks(3), ["small"])
    return db


@pytest.mark.slow
@pytest.mark.parametrize("existing,share", [(True, 0.0), (True, 0.5), (False, 0.5)],
                         ids=["over-a-file-first-bytes", "over-a-file-halfway", "new-file-halfway"])
def test_db_out_killed_while_writing_leaves_the_old_file_or_the_whole_new_one(big_db, tmp_path, existing, share):
    target = tmp_path / "big.jsonl"
    with connect(str(big_db)) as store:
        full = "".join(line + "\n" for line in store.iter_raw("big"))
        old = "".join(line + "\n" for line in store.iter_raw("small"))
    if existing:
        target.write_text(old, encoding="utf8")
    cmd = [sys.executable, "-m", "vnerteach", "db-out", "big", str(target), "--db", str(big_db)]
    assert kill_while_writing(cmd, target, max(1, int(len(full) * share))) == -signal.SIGKILL
    assert (target.read_text(encoding="utf8") if target.exists() else None) in ((old if existing else None), full)
    assert subprocess.run(cmd, capture_output=True).returncode == 0  # the next export is whole and tidies up
    assert target.read_text(encoding="utf8") == full
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.jsonl"]


@pytest.fixture(scope="module")
def long_pdf(tmp_path_factory) -> tuple[Path, str]:
    """A 100-page digital PDF whose page tasks take a second or two to write (~3 MB), and those tasks as JSONL."""
    import pymupdf

    path = tmp_path_factory.mktemp("pdf") / "long.pdf"
    doc = pymupdf.open()
    for n in range(100):
        page = doc.new_page(width=612, height=792)
        page.insert_text((72, 72), "\n".join(f"line {i} of page {n}: invoice total amount payment account customer"
                                              for i in range(30)), fontsize=10)
    doc.save(path)
    doc.close()
    done = subprocess.run([sys.executable, "-m", "vnerteach", "ocr", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return path, done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("existing,share", [(True, 0.0), (True, 0.5), (False, 0.5)],
                         ids=["over-a-file-first-bytes", "over-a-file-halfway", "new-file-halfway"])
def test_ocr_output_killed_while_writing_is_the_old_file_or_the_whole_new_one(long_pdf, tmp_path, existing, share):
    pdf, full = long_pdf
    target, old = tmp_path / "pages.jsonl", '{"text": "an earlier run"}\n'
    if existing:
        target.write_text(old, encoding="utf8")
    cmd = [sys.executable, "-m", "vnerteach", "ocr", str(pdf), "-o", str(target)]
    assert kill_while_writing(cmd, target, max(1, int(len(full) * share))) == -signal.SIGKILL
    assert (target.read_text(encoding="utf8") if target.exists() else None) in ((old if existing else None), full)
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert target.read_text(encoding="utf8") == full
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "home") == ["pages.jsonl"]  # home: the page cache


# --- the writers themselves ----------------------------------------------------------------------------------


def test_a_model_replaces_its_folder_whole_so_a_folder_of_other_files_is_refused(tmp_path):
    from vnerteach.errors import InputError
    from vnerteach.files import atomic_folder, check_output

    papers = tmp_path / "papers"
    papers.mkdir()
    (papers / "thesis.txt").write_text("years of work")
    with pytest.raises(InputError, match="not a model"):
        check_output(papers, model=True)
    model = tmp_path / "model"
    model.mkdir()
    assert check_output(model, model=True) == model  # empty
    (model / "config.cfg").write_text("old")
    (model / "stale").write_text("from an older save")
    with atomic_folder(model) as folder:
        (folder / "config.cfg").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "papers"]
    assert [p.name for p in model.iterdir()] == ["config.cfg"] and (model / "config.cfg").read_text() == "new"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    from vnerteach.files import atomic_file

    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with pytest.raises(KeyboardInterrupt):
        with atomic_file(target) as f:
            f.write("half")
            raise KeyboardInterrupt
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
    with atomic_file(tmp_path / "new.jsonl") as f:
        f.write("{}\n")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "new.jsonl").stat().st_mode & 0o777 == 0o666 & ~mask  # as open() would make it


def test_tidy_removes_what_dead_writers_left_and_puts_an_aside_folder_back(tmp_path):
    from vnerteach.files import tidy

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        model = tmp_path / "model"
        (tmp_path / f".model.old-{dead_pid}-0badc0de").mkdir()  # killed between the two renames
        (tmp_path / f".model.old-{dead_pid}-0badc0de" / "config.cfg").write_text("old")
        (tmp_path / f".model.tmp-{dead_pid}-12345678").mkdir()
        (tmp_path / f".model.tmp-{live.pid}-abcdef01").mkdir()  # another process is writing it now
        (tmp_path / f".model.json.tmp-{dead_pid}-12345678").write_text("not model's")
        tidy(model)
        assert (model / "config.cfg").read_text() == "old"
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            ["model", f".model.tmp-{live.pid}-abcdef01", f".model.json.tmp-{dead_pid}-12345678"])
    finally:
        live.kill()
        live.wait()
