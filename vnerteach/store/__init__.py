"""The dataset store: the Store API that recipes use, over SQLite or PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from itertools import islice
from typing import Iterable, Iterator, Sequence

import peewee
from peewee import Model

from ..errors import DatasetNotFound, StoreError, UsageError
from ..tasks import INPUT_HASH, TASK_HASH
from . import sessions
from .backend import dialect_for, masked, one_line, open_database
from .events import history, log
from .paging import pages
from .schema import models
from .stats import DatasetStats, per_dataset, per_session

CHUNK = 1000  # examples per insert when add_examples consumes a stream


@dataclass(frozen=True)
class SavedAnswers:
    """What :meth:`Store.save_answers` did: answers added, replaced in place, and repeats ignored."""

    added: int
    replaced: int
    unchanged: int
    taken: frozenset[int] = frozenset()  # task hashes refused: another session answered them (``unique_by``)


def to_json(example: dict) -> str:
    """An example as stored: compact JSON text, non-ASCII kept as is."""
    return json.dumps(example, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def connect(url: str) -> "Store":
    """Open the store at a SQLite path or database URL, creating tables if needed."""
    return Store(url)


class Store:
    """Datasets and examples in one database; every write is one transaction that takes the write lock first."""

    def __init__(self, url: str):
        self.url = masked(url)  # as shown in titles and messages
        self.db = open_database(url)
        self.dialect = dialect_for(self.db, self.url)
        self.Dataset, self.Example, self.Link, self.LiveSession, self.AnswerEvent = models(self.db)
        try:
            self.dialect.connect()
            # On PostgreSQL under the write lock: processes creating the tables of a new database at
            # once would otherwise collide in the catalog (duplicate key in pg_type).
            with self.dialect.locked():
                self.db.create_tables([self.Dataset, self.Example, self.Link, self.LiveSession, self.AnswerEvent],
                                      safe=True)
        except (peewee.DatabaseError, peewee.ImproperlyConfigured, sqlite3.Error) as err:
            raise StoreError(f"Cannot open database {self.url}: {one_line(err)}") from None

    def close(self) -> None:
        """Close the connection (the database stays on disk)."""
        if not self.db.is_closed():
            self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # datasets

    def datasets(self, session: bool = False) -> list[str]:
        """Names of the datasets (or of the session datasets), oldest first."""
        query = self.Dataset.select(self.Dataset.name).where(self.Dataset.session == session).order_by(self.Dataset.id)
        return [name for (name,) in query.tuples()]

    def __contains__(self, name: str) -> bool:
        return self.Dataset.select().where(self.Dataset.name == name).exists()

    def get_dataset(self, name: str) -> Model:
        """The dataset called ``name``; DatasetNotFound lists the existing ones."""
        dataset = self.Dataset.get_or_none(self.Dataset.name == name)
        if dataset is None:
            raise DatasetNotFound(name, self.datasets())
        return dataset

    def create_dataset(self, name: str, meta: dict | None = None, session: bool = False) -> Model:
        """Get or create a dataset; safe when other processes create it at the same moment."""
        with self.dialect.write():
            (self.Dataset.insert(name=name, created=int(time.time()), meta=json.dumps(meta or {}), session=session)
             .on_conflict_ignore().execute())
            return self.Dataset.get(self.Dataset.name == name)

    def drop(self, name: str) -> int:
        """Delete a dataset and its answer events; examples no longer in any dataset go too, and so do emptied sessions."""
        dataset = self.get_dataset(name)
        with self.dialect.write():
            count = self.Link.delete().where(self.Link.dataset == dataset).execute()
            self.AnswerEvent.delete().where(self.AnswerEvent.dataset == name).execute()
            dataset.delete_instance()
            # NOT EXISTS, not NOT IN (subquery): PostgreSQL runs NOT IN over a large table row by row.
            self.db.execute_sql("DELETE FROM example WHERE NOT EXISTS (SELECT 1 FROM link l JOIN dataset d "
                                "ON d.id = l.dataset_id WHERE l.example_id = example.id AND NOT d.session)")
            self.db.execute_sql("DELETE FROM link WHERE NOT EXISTS (SELECT 1 FROM example e WHERE e.id = link.example_id)")
            self.db.execute_sql("DELETE FROM dataset WHERE session AND NOT EXISTS "
                                "(SELECT 1 FROM link l WHERE l.dataset_id = dataset.id)")
        return count

    # live sessions

    def claim(self, dataset: str, address: str) -> str:
        """Record this process as the session serving ``dataset`` at ``address``; return its owner id.

        DatasetInUse names the live session of another process (or server) that serves it already;
        a session whose beat is stale, or whose process on this host is gone, is replaced.
        """
        with self.dialect.write():
            return sessions.claim(self.LiveSession, dataset, address)

    def beat(self, dataset: str, owner: str) -> bool:
        """Renew a session's heartbeat; False when it no longer holds the dataset."""
        with self.dialect.write():
            return sessions.beat(self.LiveSession, dataset, owner)

    def release(self, dataset: str, owner: str) -> None:
        """Remove a session's claim on a dataset (its clean exit)."""
        with self.dialect.write():
            sessions.release(self.LiveSession, dataset, owner)

    # examples

    def add_examples(self, examples: Iterable[dict], datasets: Sequence[str],
                     skip_duplicates: bool = False) -> int:
        """Store hashed examples in the datasets in one transaction; return how many were added.

        With ``skip_duplicates``, an example whose task hash and answer are already in the first
        dataset (or earlier in ``examples``) is not added again. The examples are consumed in
        chunks, so a long stream is never held in memory; an exception rolls everything back.
        """
        if not datasets:
            raise ValueError("add_examples needs at least one dataset")
        added = 0
        now = int(time.time())
        with self.dialect.write():
            ids = [self.create_dataset(name).id for name in datasets]
            seen = self._decisions(ids[0]) if skip_duplicates else None
            it = iter(examples)
            while chunk := list(islice(it, CHUNK)):
                rows = []
                for eg in chunk:
                    key = (eg[TASK_HASH], eg.get("answer"))
                    if seen is not None:
                        if key in seen:
                            continue
                        seen.add(key)
                    rows.append((eg[INPUT_HASH], eg[TASK_HASH], eg.get("answer"),
                                 to_json(eg), now))
                if rows:
                    self.dialect.insert(rows, ids)
                    added += len(rows)
            self.dialect.after_import(added)
        return added

    def save_answers(self, answers: Sequence[dict], dataset: str, session: str,
                     unique_by: str | None = None) -> SavedAnswers:
        """Store a session's answers in one transaction, idempotent per session and task hash.

        A new answer is added to the dataset and the session dataset; a resend of the same answer
        (whatever its ``_timestamp``) changes nothing; a different answer to the same question in
        the same session replaces the stored example in place. Each addition and replacement is
        logged as an answer event in the same transaction. With ``unique_by`` ("task" or "input"),
        a new answer to a question (or input) that another session answered in the dataset is not
        stored but returned as ``taken``: one answer per dataset, also when a browser still held a
        task of a run that was killed and the next run handed it to someone else.
        """
        added = replaced = unchanged = 0
        now = int(time.time())
        events = []
        with self.dialect.write():
            target, sess = self._pair(dataset, session, create=True)
            latest: dict[int, tuple[int, str]] = {}
            for task_hash, example_id, content in self._session_examples(sess, [eg[TASK_HASH] for eg in answers]):
                latest.setdefault(task_hash, (example_id, content))
            key = TASK_HASH if unique_by == "task" else INPUT_HASH
            others = self._answered_elsewhere(target, sess, unique_by, [eg[key] for eg in answers
                                                                        if eg[TASK_HASH] not in latest])
            taken = frozenset(eg[TASK_HASH] for eg in answers if eg[TASK_HASH] not in latest and eg[key] in others)
            new_rows: dict[int, tuple] = {}  # by task hash: a question answered twice in one call
            for eg in answers:
                if eg[TASK_HASH] in taken:
                    continue
                content = to_json(eg)
                row = (eg[INPUT_HASH], eg[TASK_HASH], eg.get("answer"), content, now)
                if eg[TASK_HASH] in new_rows:
                    same = new_rows[eg[TASK_HASH]][3] == content
                    unchanged += same
                    replaced += not same
                    if not same:
                        events.append(("replaced", *row[:4]))
                    new_rows[eg[TASK_HASH]] = row
                    continue
                stored = latest.get(eg[TASK_HASH])
                if stored is None:
                    new_rows[eg[TASK_HASH]] = row
                    events.append(("stored", *row[:4]))
                    added += 1
                elif stored[1] == content or _same_decision(stored[1], eg):
                    unchanged += 1
                else:
                    (self.Example.update(input_hash=eg[INPUT_HASH], answer=eg.get("answer"), content=content, created=now)
                     .where(self.Example.id == stored[0]).execute())
                    self.Link.insert(example=stored[0], dataset=target).on_conflict_ignore().execute()
                    latest[eg[TASK_HASH]] = (stored[0], content)
                    events.append(("replaced", *row[:4]))
                    replaced += 1
            if new_rows:
                self.dialect.insert(list(new_rows.values()), [target, sess])
            log(self.db, dataset, session, events)
        return SavedAnswers(added, replaced, unchanged, taken)

    def _answered_elsewhere(self, target: int, sess: int, kind: str | None, keys: list[int]) -> set[int]:
        """Of these task or input hashes (``kind``), those the dataset holds answers to from outside this session."""
        if kind is None or not keys:
            return set()
        column = self.Example.task_hash if kind == "task" else self.Example.input_hash
        mine = self.Link.select(self.Link.example).where(self.Link.dataset == sess)
        query = (self.Example.select(column).join(self.Link)
                 .where((self.Link.dataset == target) & column.in_(keys) & self.Example.id.not_in(mine)))
        return {value for (value,) in query.tuples()}

    def retract(self, dataset: str, session: str, task_hash: int) -> list[dict]:
        """Withdraw a session's answer to a question (undo); return the examples removed, none if it has no answer.

        The example leaves the dataset and the session dataset (and the database, when no other
        dataset holds it); a ``retracted`` answer event records it, in the same transaction.
        """
        p = self.db.param
        with self.dialect.write():
            target, sess = self._pair(dataset, session)
            if target is None or sess is None:
                return []
            found = [(example_id, content) for _hash, example_id, content in self._session_examples(sess, [task_hash])]
            for example_id, _content in found:
                self.db.execute_sql(f"DELETE FROM link WHERE example_id = {p} AND dataset_id IN ({p}, {p})",
                                    (example_id, target, sess))
                self.db.execute_sql(f"DELETE FROM example WHERE id = {p} AND NOT EXISTS "
                                    f"(SELECT 1 FROM link WHERE example_id = {p})", (example_id, example_id))
            removed = [json.loads(content) for _id, content in found]
            log(self.db, dataset, session, [("retracted", eg[INPUT_HASH], eg[TASK_HASH], eg.get("answer"), None)
                                         for eg in removed])
        return removed

    def _session_examples(self, session_id: int, task_hashes: Sequence[int]) -> list[tuple[int, int, str]]:
        """(task hash, id, content) of a session dataset's examples with these task hashes, each hash's newest first."""
        unique, found = list(dict.fromkeys(task_hashes)), []
        for start in range(0, len(unique), 500):  # plain SQL on the answer path: no query building
            chunk = unique[start:start + 500]
            found += self.db.execute_sql(
                "SELECT e.task_hash, e.id, e.content FROM example e JOIN link l ON l.example_id = e.id "
                f"WHERE l.dataset_id = {self.db.param} AND e.task_hash IN ({', '.join([self.db.param] * len(chunk))}) "
                "ORDER BY e.id DESC", (session_id, *chunk)).fetchall()
        return found

    def events(self, dataset: str, answers: Sequence[str] | None = None) -> Iterator[dict]:
        """A dataset's answer events, oldest first: time, event (stored, replaced, retracted), session, hashes, answer."""
        self.get_dataset(dataset)
        return history(self.AnswerEvent, dataset, answers)

    def _pair(self, dataset: str, session: str, create: bool = False) -> tuple[int | None, int | None]:
        """The ids of a regular dataset and a session dataset in one query (the answer path); created if asked, else None."""
        rows = {name: (id_, bool(flag)) for name, id_, flag in self.db.execute_sql(
            f"SELECT name, id, session FROM dataset WHERE name IN ({self.db.param}, {self.db.param})",
            (dataset, session)).fetchall()}
        ids = []
        for name, is_session in ((dataset, False), (session, True)):
            found = rows.get(name)
            if found is None and create:
                created = self.create_dataset(name, session=is_session)
                found = rows[name] = (created.id, bool(created.session))
            if found is not None and found[1] != is_session:
                raise UsageError(f"Session '{name}' is the name of a regular dataset, not a session" if is_session
                                 else f"'{name}' is a session dataset; answers go to a regular dataset")
            ids.append(None if found is None else found[0])
        return ids[0], ids[1]

    def _decisions(self, dataset_id: int) -> set[tuple[int, str | None]]:
        """(task hash, answer) of every example in a dataset: what ``skip_duplicates`` does not add again."""
        query = (self.Example.select(self.Example.task_hash, self.Example.answer)
                 .join(self.Link).where(self.Link.dataset == dataset_id))
        return set(query.tuples().iterator())

    def hashes(self, datasets: Iterable[str], kind: str = "task", among: Iterable[int] | None = None) -> set[int]:
        """The task (or input) hashes of all examples in the datasets (only those ``among`` some): what not to ask again."""
        column = {"task": self.Example.task_hash, "input": self.Example.input_hash}[kind]
        names = list(datasets)
        if not names:
            return set()
        ids = [self.get_dataset(name).id for name in names]
        query = self.Example.select(column).join(self.Link).where(self.Link.dataset.in_(ids))
        if among is not None:
            query = query.where(column.in_(list(among)))
        return {h for (h,) in query.tuples().iterator()}

    def iter_examples(self, dataset: str, answers: Sequence[str] | None = None) -> Iterator[dict]:
        """The examples of a dataset in the order they were added, decoded lazily."""
        return (json.loads(raw) for raw in self.iter_raw(dataset, answers))

    def iter_raw(self, dataset: str, answers: Sequence[str] | None = None) -> Iterator[str]:
        """The examples of a dataset as stored JSON text: the fast path for exports."""
        # Paged by link.example_id, not example.id (the same value): the range is then one of the
        # (dataset, example) index, which SQLite would otherwise rescan from the start for every page.
        query = (self.Example.select(self.Link.example, self.Example.content).join(self.Link)
                 .where(self.Link.dataset == self.get_dataset(dataset)))
        if answers:
            query = query.where(self.Example.answer.in_(list(answers)))
        return (content for _id, content in pages(query, self.Link.example, self.Example.id))

    def latest_answers(self, dataset: str, session: str, n: int) -> list[dict]:
        """A session's last ``n`` answers in a dataset, oldest first; none before the session's first answer."""
        target, sess = self._pair(dataset, session)
        if target is None or sess is None:
            return []
        p = self.db.param
        rows = self.db.execute_sql(
            "SELECT e.content FROM example e JOIN link s ON s.example_id = e.id JOIN link d ON d.example_id = e.id "
            f"WHERE s.dataset_id = {p} AND d.dataset_id = {p} ORDER BY e.id DESC LIMIT {p}", (sess, target, n)).fetchall()
        return [json.loads(content) for (content,) in reversed(rows)]

    def tail(self, dataset: str, n: int) -> list[dict]:
        """A dataset's last ``n`` examples, oldest first (what its annotators answered most recently)."""
        query = (self.Example.select(self.Example.content).join(self.Link)
                 .where(self.Link.dataset == self.get_dataset(dataset))
                 .order_by(self.Link.example.desc()).limit(n))
        return [json.loads(content) for (content,) in reversed(list(query.tuples()))]

    def count(self, dataset: str) -> int:
        """How many examples a dataset holds."""
        return self.Link.select().where(self.Link.dataset == self.get_dataset(dataset)).count()

    def stats(self, name: str | None = None) -> list[DatasetStats]:
        """Counts per dataset (all non-session datasets, or the one named)."""
        datasets = [self.get_dataset(name)] if name else list(
            self.Dataset.select().where(self.Dataset.session == False).order_by(self.Dataset.id))  # noqa: E712
        return [per_dataset(self.Dataset, self.Example, self.Link, d) for d in datasets]

    def session_stats(self, name: str) -> list[DatasetStats]:
        """Counts of a dataset's examples per session that answered them (one row per annotator or run), oldest first."""
        return per_session(self.Dataset, self.Example, self.Link, self.get_dataset(name))


def _same_decision(stored: str, example: dict) -> bool:
    """Whether a stored example and a new one differ at most in their ``_timestamp``."""
    old = json.loads(stored)
    old.pop("_timestamp", None)
    return old == {k: v for k, v in example.items() if k != "_timestamp"}
