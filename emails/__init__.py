"""The course's words and the messages made from them, from plain values only: it imports
neither ``service`` nor ``workers``, touches no database and sends nothing.

- ``course``, ``step``: a course folder (``courses/<slug>/course.toml`` and one Markdown file
  per email) read and checked, errors naming the file and line;
- ``render``: MJML compiled once per process, Jinja per reader: subject, HTML and text;
- ``message``: a finished course or confirmation email with its headers (``build_message``
  for previews); ``wire`` writes the same email's bytes for sending; ``headers`` the values;
- ``forward``: the forward to the therapist and the crisis reply;
- ``received``, ``html_text``: reading a received message; ``reader_reply``: a reply as a
  mail app writes it (the development inbox);
- ``safety``: the crisis phrases and the crisis reply, beside the files they read.
"""
