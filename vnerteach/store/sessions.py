"""Live sessions: which process serves a dataset right now, claimed, kept alive by a heartbeat, and released."""

from __future__ import annotations

import os
import socket
import time
import uuid

from peewee import Model

from ..errors import DatasetInUse

HEARTBEAT_S = 2.0  # how often a serving session renews its live_session row
LIVE_BEATS = 3  # a session whose last beat is older than this many intervals serves no more


def claim(live: type[Model], dataset: str, address: str) -> str:
    """Record this process as the session serving ``dataset`` (inside a write); DatasetInUse if another one lives."""
    owner = uuid.uuid4().hex
    other = live.get_or_none(live.dataset == dataset)
    if other is not None and alive(other):
        raise DatasetInUse(dataset, other.address, other.pid, other.host)
    live.delete().where(live.dataset == dataset).execute()
    live.create(dataset=dataset, owner=owner, address=address, pid=os.getpid(), host=socket.gethostname(),
                beat=time.time())
    return owner


def beat(live: type[Model], dataset: str, owner: str) -> bool:
    """Renew a session's heartbeat (inside a write); False when it no longer holds the dataset."""
    query = live.update(beat=time.time()).where((live.dataset == dataset) & (live.owner == owner))
    return query.execute() == 1


def release(live: type[Model], dataset: str, owner: str) -> None:
    """Remove a session's claim on a dataset (inside a write)."""
    live.delete().where((live.dataset == dataset) & (live.owner == owner)).execute()


def alive(session: Model) -> bool:
    """Whether a recorded session still serves: its beat is recent and, on this host, its process exists."""
    if time.time() - session.beat > LIVE_BEATS * HEARTBEAT_S:
        return False
    if session.host == socket.gethostname():
        try:
            os.kill(session.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process: it exists
            pass
    return True
