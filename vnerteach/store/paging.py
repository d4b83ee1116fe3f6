"""Keyset pagination: a query's rows read a page at a time, so streaming a dataset keeps memory flat on any backend."""

from __future__ import annotations

from typing import Iterator

import peewee

PAGE = 1000  # rows per query when a dataset is streamed


def pages(query: peewee.Select, key: peewee.Field, *equal: peewee.Field) -> Iterator[tuple]:
    """A query's rows in ``key`` order (its first column), PAGE rows per query (``key > last``): bounded memory.

    psycopg2 fetches a whole result on execute (peewee's ``.iterator()`` only saves model
    instances), so one query over a large dataset would hold it all; a page at a time does not.
    Rows committed meanwhile with a larger key are included. ``equal`` are columns joined equal
    to ``key``: bounded too, so that PostgreSQL starts their index scan at the page, not at the first row.
    """
    last = None
    while True:
        page = query if last is None else query.where(*(field > last for field in (key, *equal)))
        rows = list(page.order_by(key).limit(PAGE).tuples())
        yield from rows
        if len(rows) < PAGE:
            return
        last = rows[-1][0]
