"""The scope stage: is a post about the writer's own suicide risk at all? (``corpora``: its ordinary text)."""
