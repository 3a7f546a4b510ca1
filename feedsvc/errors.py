"""The exceptions feedsvc raises: one root, a few specific children."""
from __future__ import annotations


class FeedsvcError(Exception):
    """Root of every error feedsvc raises on purpose."""


class ConfigError(FeedsvcError):
    """A setting is unknown or has a bad value; start-up stops."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"config key {key!r}: {reason}")
        self.key = key
        self.reason = reason


class ContentError(FeedsvcError):
    """One file of the content store could not be read as a post; it is skipped."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple:
        # Pickle by (path, reason): the parse cache stores errors with their posts.
        return (type(self), (self.path, self.reason))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ContentError)
                and (self.path, self.reason) == (other.path, other.reason))

    def __hash__(self) -> int:
        return hash((self.path, self.reason))

    def __repr__(self) -> str:
        return f"ContentError({self.path!r}, {self.reason!r})"
