"""Handing stored messages to the reply job (they share the transactional queue: a person who
wrote is waiting, like a sign-up)."""

from __future__ import annotations

from collections.abc import Sequence

from service.context import Context
from service.inbox import inbound
from service.outbox.handoff import enqueue_or_release
from service.queues import HANDLE_REPLIES, QUEUE_TRANSACTIONAL


def enqueue_replies(ctx: Context, inbound_ids: Sequence[int]) -> int:
    """Enqueue claimed inbound messages for the reply job (0, and handed back, if Redis
    refused)."""
    return enqueue_or_release(
        ctx, QUEUE_TRANSACTIONAL, inbound_ids, job=HANDLE_REPLIES, release=inbound.release
    )
