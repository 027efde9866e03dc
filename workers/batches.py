"""The per-connection batch loop that both jobs share: one SMTP connection for a batch, and
one item's failure contained to that item.

Known failures (SMTP answers, dropped connections) are classified by each job. Anything
else — a record that cannot be composed, a bug — is caught here for that one item, logged
with its id, recorded by the job's ``on_error`` in a state that says why, and the batch goes
on. The connection is closed after such a failure, since its state is unknown; the next item
opens a fresh one.

One kind of failure is not the item's: the database itself away (restarting, unreachable,
its disk full). Recording it against the item would end an email that is only waiting, so
the batch stops there with one log line; its claims go stale and the tick takes them again
once the database is back.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from rq.timeouts import BaseTimeoutException
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from workers.runtime import Runtime
from workers.transport import Transport

log = logging.getLogger("coursemail.batch")

#: Handles one id over the shared transport; returns the outcome's name.
Handler = Callable[[Runtime, Transport, int], str]
#: Records an unexpected failure of one id; returns the outcome's name.
ErrorRecorder = Callable[[Runtime, int, Exception], str]


class DatabaseAway(Exception):
    """The database cannot be reached or written now; nothing is wrong with the item."""


def database_away(error: BaseException) -> bool:
    """Whether ``error`` says the database is away rather than this item being bad."""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def one_line(error: BaseException) -> str:
    """An error as one short line for a log (a driver's message may span several)."""
    text = str(getattr(error, "orig", None) or error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0][:200] if text else ''}"


class Beat(Protocol):
    """Marks the claims on ``ids`` as still held, at ``now``."""

    def __call__(self, session: Session, ids: Sequence[int], *, now: datetime) -> None: ...


def over_one_connection(
    rt: Runtime,
    ids: Sequence[int],
    handle: Handler,
    *,
    what: str,
    on_error: ErrorRecorder,
    beat: Beat,
) -> dict[str, int]:
    """Run ``handle`` for each id with one SMTP connection, opened lazily and always closed,
    while a heartbeat keeps the batch's claims fresh."""
    outcomes: Counter[str] = Counter()
    transport = rt.make_transport()
    try:
        with Heartbeat(rt, ids, beat):
            for one_id in ids:
                outcomes[_one(rt, transport, one_id, handle, what=what, on_error=on_error)] += 1
    except DatabaseAway as away:
        left = len(ids) - sum(outcomes.values())
        outcomes["database_away"] += left
        log.error(
            "%s stopped: the database is away (%s); %d left for the tick to take again",
            what,
            away,
            left,
        )
    finally:
        transport.close()
    log.info("%s of %d: %s", what, len(ids), dict(outcomes))
    return dict(outcomes)


def _one(
    rt: Runtime,
    transport: Transport,
    one_id: int,
    handle: Handler,
    *,
    what: str,
    on_error: ErrorRecorder,
) -> str:
    try:
        return handle(rt, transport, one_id)
    except BaseTimeoutException:
        raise  # the job's time limit: the whole job ends; its claims go stale for the tick
    except Exception as error:  # noqa: BLE001 - contained to this item, logged and recorded
        if database_away(error):
            raise DatabaseAway(one_line(error)) from error
        log.exception("%s: item %d failed unexpectedly; the others go on", what, one_id)
        transport.close()
        try:
            return on_error(rt, one_id, error)
        except Exception:  # noqa: BLE001 - e.g. the database is away: the claim goes stale
            # and the tick takes it again (attempts are counted, so not forever)
            log.exception("%s: could not record the failure of item %d", what, one_id)
            return "unrecorded"


class Heartbeat:
    """While a job holds its claims, refresh them every third of ``CLAIM_TIMEOUT``, so the
    tick never takes back work a live (if slow) job still holds. When the job dies, the beat
    stops with it and its claims go stale within ``CLAIM_TIMEOUT``."""

    def __init__(self, rt: Runtime, ids: Sequence[int], beat: Beat) -> None:
        self.rt, self.ids, self.beat = rt, list(ids), beat
        self.every = rt.settings.claim_timeout.total_seconds() / 3
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="claim-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                with self.rt.database.session() as session:
                    self.beat(session, self.ids, now=self.rt.clock.now())
            except Exception as error:  # noqa: BLE001 - a missed beat only risks a retake
                log.warning("could not refresh the batch's claims (%s)", error)
