"""Mail going out: claims, batches, outcomes, and the links each email carries."""
