"""Mail going out, as a state machine in the database (DESIGN decision 3).

- ``claims``: due enrollments become deliveries, claimed in batches (pending → claimed),
  stale claims taken back, the night's emails held for the morning;
- ``handoff``: claimed ids handed to the workers through Redis, handed back if Redis refuses;
- ``batch``: a send batch's reads and its take-in-hand (claimed → sending), in as few
  statements as the guarantees allow;
- ``sent``: the one "sent" update, and the enrollment moved on to its next step;
- ``outcomes``: every other ending (retry, bounce, failure, ambiguous, cancelled), and orphans
  of a dead worker;
- ``resend``: sending an email again on purpose, and who may;
- ``links``: the signed links and tracked addresses one email carries.

Uses ``readers`` (suppression, whom an email is meant for), ``store`` and the kernel. The
workers talk SMTP; nothing here does.
"""
