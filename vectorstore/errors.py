"""Errors the store raises; the CLI and the web layer turn them into messages."""


class StoreError(Exception):
    """The store could not do what was asked; the message says why."""


class StoreLockedError(StoreError):
    """Another process holds the embedded store."""
