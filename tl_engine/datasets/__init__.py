"""Dataset classes, one per use case, and the helpers they share."""
