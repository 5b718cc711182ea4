"""Model classes, one per framework and use case."""
