"""A reader’s life, from the form to erasure.

- ``lifecycle``: sign up, confirm (enroll), mark unsubscribed, suppress; which reader an
  email is meant for;
- ``actions``: what may be done to one reader’s course (pause, resume, the next email now, a
  chosen hour, a slower pace and back, discreet mode, unsubscribe), by the desk, the command
  line or the reader, each refused with a plain reason (``ActionRefused``) when it cannot be;
- ``erasure``: erase everything that names a person, keeping an anonymous row;
- ``history``: their record (consents and every change), appended, never changed;
- ``importing``: readers from a CSV file, each row checked, with how they agreed;
- ``export``: what a reader may take away (the emails they were sent, their data);
- ``validation``: the name checks the form and the import share.

Uses ``store`` and the kernel (``schedule`` for every due time); nothing above it.
"""
