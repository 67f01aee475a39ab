"""The errors a user can cause. Each renders as one sentence: what happened, where, what to do.

The CLI prints `str(error)` and exits 2; nothing that derives from KubedriftError ever reaches the
user as a traceback.
"""

from __future__ import annotations

from core.redact import redact_text


class KubedriftError(Exception):
    """Base of every error that kubedrift reports to the user as one sentence."""


class ConfigError(KubedriftError):
    """A bad `kubedrift.yaml` or Argo CD Application manifest."""

    def __init__(self, message: str, *, file: str = "", line: int | None = None, field: str = "") -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file
        if where and self.line is not None:
            where = f"{where}:{self.line}"
        prefix = f"{where}: " if where else ""
        field_part = f"{self.field}: " if self.field else ""
        return f"{prefix}{field_part}{self.message}"


class GitSourceError(KubedriftError):
    """A repository, revision or path that cannot be read.

    Its message often quotes a repoURL, and git quotes it with any token in it: every URL in the
    message is redacted here, so no caller can let a credential through to a screen or a file.
    """

    def __init__(self, message: str) -> None:
        super().__init__(redact_text(message))


class RenderError(KubedriftError):
    """A manifest file that fails to parse or render; it names the file and, where known, the line."""

    def __init__(self, message: str, *, file: str = "", line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file
        if where and self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}" if where else self.message
