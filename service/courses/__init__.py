"""The course's words as published: versions kept in the database (``versions``), and the
copy each process sends from (``catalog``)."""
