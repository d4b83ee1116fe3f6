"""The store's tables as peewee models, bound to one database at a time."""

from __future__ import annotations

import peewee
from peewee import (BigIntegerField, BooleanField, CharField, DoubleField, ForeignKeyField, IntegerField, Model,
                    TextField)


def models(db: peewee.Database) -> tuple[type[Model], ...]:
    """The model classes bound to one database: each Store has its own, so two stores never share a binding."""

    class Dataset(Model):
        """A named collection of examples; session datasets record one annotation run each."""

        name = CharField(unique=True)
        created = IntegerField()
        meta = TextField(default="{}")
        session = BooleanField(default=False)

        class Meta:
            database = db

    class Example(Model):
        """One decision: the task as answered, as JSON text, with its hashes."""

        input_hash = BigIntegerField(index=True)
        task_hash = BigIntegerField(index=True)
        answer = CharField(null=True)
        content = TextField()
        created = IntegerField()

        class Meta:
            database = db

    class Link(Model):
        """Which datasets an example belongs to (its dataset and its session)."""

        example = ForeignKeyField(Example, backref="links", on_delete="CASCADE")
        dataset = ForeignKeyField(Dataset, backref="links", on_delete="CASCADE")

        class Meta:
            database = db
            indexes = ((("dataset", "example"), True),)

    class LiveSession(Model):
        """The annotation session serving a dataset right now, kept alive by its heartbeat."""

        dataset = CharField(unique=True)
        owner = CharField()
        address = CharField()
        pid = IntegerField()
        host = CharField()
        beat = DoubleField()  # seconds since the epoch: PostgreSQL's REAL (FloatField) would round them to minutes

        class Meta:
            database = db
            table_name = "live_session"

    class AnswerEvent(Model):
        """The audit log of a session's answers: stored, replaced or retracted (undo), by dataset and session."""

        time = DoubleField()
        event = CharField()
        dataset = CharField(index=True)
        session = CharField()
        input_hash = BigIntegerField()
        task_hash = BigIntegerField()
        answer = CharField(null=True)
        content = TextField(null=True)  # the answer as stored; none for a retraction

        class Meta:
            database = db
            table_name = "answer_event"

    return Dataset, Example, Link, LiveSession, AnswerEvent
