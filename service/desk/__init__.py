"""What the therapist sees, as queries: nothing here changes a reader (``readers`` does).

- ``overview``: the funnel, where readers left, sign-ups per day, the health figures;
- ``snapshot``: the costly figures counted by the tick and kept in one row at scale;
- ``lists``: readers, replies and emails by state, a page at a time;
- ``search``: readers by any part of an address or name, on trigram indexes;
- ``timeline``: one reader's story, oldest first;
- ``preview``: every email as a sample reader gets it, and when each would arrive;
- ``monitoring``: sends by state, stale claims, waiting replies (``/healthz``, ``status``);
- ``export``: the whole list, streamed;
- ``sending_setup``: DNS records, the relay, PUBLIC_URL and the reply path checked live
  (``coursemail doctor``, the Sending setup page);
- ``accounts``, ``audit``: who may open the desk, and what they did there.

Uses every room below it (``inbox``, ``outbox``, ``readers``, ``store``).
"""
