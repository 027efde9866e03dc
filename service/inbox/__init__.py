"""Mail coming in for ``REPLY_DOMAIN``.

- ``inbound``: a received message's life: kept raw first (the SMTP listener and every webhook
  call ``store``), claimed, forwarded, recorded;
- ``triage``: what a message is (a reply, an auto-reply, a bounce, an unsubscribe) and what it
  asks for (an urgent flag, a crisis reply, to stop);
- ``handoff``: stored messages handed to the reply job.

Uses ``outbox`` (its backoff, the delivery a reply answers), ``readers`` (to stop a reader who
asks) and ``store``.
"""
