"""Mail coming in: store a received message, claim it, and triage it."""
