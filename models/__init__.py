"""Models that load from files shipped with the project: the embedder."""
