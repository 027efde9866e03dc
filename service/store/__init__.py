"""Where everything is kept: the tables (``models``, a package with one module per room's
tables), engines and sessions (``db``), the Alembic migrations (``migrate`` applies those in
``migrations/``), and a checked copy of the database while everything runs (``backup``).

It imports nothing else of ``service``: every other room stands on it.
"""
