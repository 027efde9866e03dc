"""The per-connection batch loop that both jobs share: one SMTP connection for a batch, and
one item's failure contained to that item.

Known failures (SMTP answers, dropped connections) are classified by each job. Anything
else — a record that cannot be composed, a bug — is caught here for that one item, logged
with its id, recorded by the job's ``on_error`` in a state that says why, and the batch goes
on. The connection is closed after such a failure, since its state is unknown; the next item
opens a fresh one.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence

from workers.runtime import Runtime
from workers.transport import Transport

log = logging.getLogger("coursemail.batch")

#: Handles one id over the shared transport; returns the outcome's name.
Handler = Callable[[Runtime, Transport, int], str]
#: Records an unexpected failure of one id; returns the outcome's name.
ErrorRecorder = Callable[[Runtime, int, Exception], str]


def over_one_connection(
    rt: Runtime,
    ids: Sequence[int],
    handle: Handler,
    *,
    what: str,
    on_error: ErrorRecorder,
) -> dict[str, int]:
    """Run ``handle`` for each id with one SMTP connection, opened lazily and always closed."""
    outcomes: Counter[str] = Counter()
    transport = rt.make_transport()
    try:
        for one_id in ids:
            outcomes[_one(rt, transport, one_id, handle, what=what, on_error=on_error)] += 1
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
    except Exception as error:  # noqa: BLE001 - contained to this item, logged and recorded
        log.exception("%s: item %d failed unexpectedly; the others go on", what, one_id)
        transport.close()
        try:
            return on_error(rt, one_id, error)
        except Exception:  # noqa: BLE001 - e.g. the database is away: the claim goes stale
            # and the tick takes it again (attempts are counted, so not forever)
            log.exception("%s: could not record the failure of item %d", what, one_id)
            return "unrecorded"
