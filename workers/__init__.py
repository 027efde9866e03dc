"""The processes and their jobs: everything that talks SMTP, sleeps, or runs for long.

- ``tick``: the loop that finds due work in the database and hands it to the workers;
- ``jobs``: the RQ entry points (ids only); ``sending`` (a batch over one connection),
  ``forwarding`` (the reply job), ``desk_jobs`` (a resend, a test), sharing ``batches``
  (one connection per batch, one item's failure kept to itself);
- ``transport``: SMTP, every failure classified; ``listener``: the inbound SMTP listener;
- ``rq_worker``, ``pool``: the worker processes, kept alive through Redis outages;
- ``runtime``: the service's context plus the transport and renderers;
- ``cli``: the ``coursemail`` command; ``launcher``: ``make run``; ``redis_server`` and
  ``mailcatcher``: the embedded Redis and the development mail catcher.

It calls ``service`` for every rule and ``emails`` for every message; neither imports it.
"""
