"""Mail coming in for ``REPLY_DOMAIN``.

- ``inbound``: a received message's life: kept raw first (the SMTP listener and every webhook
  call ``store``), claimed, forwarded, recorded;
- ``triage``: what a message is (a reply, an auto-reply, a bounce, an unsubscribe) and what it
  asks for (an urgent flag, a crisis reply, to stop);
- ``bounces``: what a delivery report teaches (hard, a refusal of our setup, expired, soft)
  and the email or forward it returns marked;
- ``complaints``: a feedback report (ARF) suppressing the reader it names;
- ``answers``: the therapist's answer from the desk, queued in the outbox;
- ``retention``: readers' words forgotten after REPLY_RETENTION_DAYS;
- ``handoff``: stored messages handed to the reply job.

Uses ``outbox`` (its backoff, the delivery a reply answers), ``readers`` (to stop a reader who
asks) and ``store``.
"""
