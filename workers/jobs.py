"""RQ job entry points: importable functions that take ids only."""

from __future__ import annotations

from workers import replies, runtime, sending


def send_batch(delivery_ids: list[int]) -> dict[str, int]:
    """Send these claimed deliveries over one SMTP connection."""
    return sending.send_batch(runtime.current(), delivery_ids)


def handle_replies(inbound_ids: list[int]) -> dict[str, int]:
    """Parse these stored messages and forward the replies among them to the therapist."""
    return replies.handle_batch(runtime.current(), inbound_ids)
