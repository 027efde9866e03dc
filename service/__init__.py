"""The domain, in rooms. Dependencies run down this list (import-linter enforces it in
``make lint``); each room's ``__init__`` says what lives in it.

- ``web``: the Flask app, views only (``web/desk`` for the therapist's desk);
- ``desk``: what the therapist sees: the overview, lists, search, a reader's timeline, the
  course's preview, monitoring, the list's export;
- ``inbox``: mail coming in: kept raw, claimed, triaged, handed to the reply job;
- ``outbox``: mail going out: claims, batches, outcomes, the one "sent" update, resends,
  the links each email carries, the hand-off to Redis;
- ``readers``: a reader's life: sign-up and confirmation, their own actions, their record,
  import, export, erasure;
- ``store``: the tables, sessions, migrations and backups.

Beside them, the kernel, which enters no room: ``settings`` (read from ``variables``),
``clock``, ``schedule`` (every ``next_send_at``), ``tokens`` (signed links), ``addresses``
(tracked ``reply+``/``bounces+`` addresses), ``logmask``, ``queues`` (the job names, the
whole contract with ``workers``); and ``context``, the per-process handle on settings,
clock, database and Redis, which reaches only into ``store``.

``service`` never imports ``workers``; only ``web`` imports Flask. See docs/ARCHITECTURE.md.
"""
