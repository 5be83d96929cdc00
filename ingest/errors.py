"""Errors the ingest room raises; the CLI turns them into one-line messages."""


class IngestError(Exception):
    """An input could not be read as an article; the message says why."""
