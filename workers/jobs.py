"""RQ job entry points: importable functions that take ids only.

The web app and the tick enqueue them by dotted name (``service.queues``), so nothing in
``service`` imports this module.
"""

from __future__ import annotations

from workers import forwarding, runtime, sending


def send_batch(delivery_ids: list[int]) -> dict[str, int]:
    """Send these claimed deliveries over one SMTP connection."""
    return sending.send_batch(runtime.current(), delivery_ids)


def handle_replies(inbound_ids: list[int]) -> dict[str, int]:
    """Parse these stored messages and forward the replies among them to the therapist."""
    return forwarding.handle_batch(runtime.current(), inbound_ids)
