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
    """One file of the content store could not be read as a post; it is skipped.

    *line*, when known, is the line of the file at fault (a Liquid syntax error): reports
    then read ``path:line: reason``, as compilers write them.
    """

    def __init__(self, path: str, reason: str, line: int | None = None) -> None:
        super().__init__(f"{path}:{line}: {reason}" if line is not None else f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.line = line

    @property
    def location(self) -> str:
        """Return ``path`` or ``path:line``."""
        return self.path if self.line is None else f"{self.path}:{self.line}"

    def __reduce__(self) -> tuple:
        # Pickle by (path, reason, line): the parse cache stores errors with their posts.
        return (type(self), (self.path, self.reason, self.line))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ContentError)
                and (self.path, self.reason, self.line) == (other.path, other.reason, other.line))

    def __hash__(self) -> int:
        return hash((self.path, self.reason, self.line))

    def __repr__(self) -> str:
        line = "" if self.line is None else f", line={self.line}"
        return f"ContentError({self.path!r}, {self.reason!r}{line})"
