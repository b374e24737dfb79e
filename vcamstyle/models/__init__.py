"""Models: segmenters and stylizers behind one registry (see ``registry``)."""
