"""The fault suite: ``make reliability`` runs the service's real processes through faults and
writes docs/RELIABILITY.md (see ``__main__``)."""
