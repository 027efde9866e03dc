"""What the therapist sees: the overview, lists, search, timeline, previews, monitoring."""
