"""The ``coursemail`` command. One module per kind of command, every one registered here (so
``coursemail --help`` and ``python -m workers.cli --help`` list the same commands):

- ``database``: ``db upgrade``, ``db backup``;
- ``course_files``: ``course check``, ``preview``;
- ``processes``: ``run`` (everything, for a developer), ``tick``, ``worker``, ``inbound``,
  ``catcher``;
- ``one_reader``: ``sign-up``, ``pause``, ``resume``, ``erase``, ``consent``;
- ``reader_list``: ``readers export``, ``readers import``;
- ``keys``: ``keys new``, ``keys rotate`` (the key that seals replies at rest);
- ``dkim``: ``dkim new``, ``dkim record`` (the key that signs every message we send);
- ``doctor``: ``doctor`` (DNS records, the relay, PUBLIC_URL and the reply path, checked);
- ``desk_accounts``: ``desk add-user``, ``desk password``, ``desk code-off``,
  ``desk remove-user``, ``desk users`` (who may open the desk);
- ``operator``: ``status``, ``replies``, ``stats``, ``resend``, ``send-test``;
- ``common``: settings read with a clear error, logging, a runtime per command.

Commands import what they need inside their body: ``coursemail --help`` stays quick.
"""

from __future__ import annotations

import click

from workers.cli import (
    course_files,
    database,
    desk_accounts,
    dkim,
    doctor,
    keys,
    one_reader,
    operator,
    processes,
    reader_list,
)


@click.group()
def main() -> None:
    """coursemail: an email course, sent gently and on time."""


for command in (
    database.db,
    course_files.course,
    course_files.preview,
    processes.run,
    processes.tick,
    processes.worker,
    processes.inbound,
    processes.catcher,
    one_reader.sign_up,
    one_reader.pause,
    one_reader.resume,
    one_reader.erase,
    one_reader.consent,
    reader_list.readers,
    keys.keys,
    desk_accounts.desk,
    dkim.dkim,
    doctor.doctor,
    operator.status,
    operator.replies,
    operator.stats,
    operator.resend,
    operator.send_test,
):
    main.add_command(command)
