"""Building a kustomization with the kustomize tool the user has installed.

`kubectl kustomize DIR` is tried first, then `kustomize build DIR`. The runner is a Protocol so that
the renderer can be given a substitute in tests.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.errors import RenderError

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
KUSTOMIZE_TIMEOUT_SECONDS = 60.0

# kubectl 1.30+ logs a failure through klog: `E0101 12:00:00.000000 1 run.go:72] "command failed" err="..."`.
_KLOG_FAILURE = re.compile(r'^[EWIF]\d{4} [\d:.]+\s+\d+ \S+\] "command failed" err="(?P<err>.*)"$')


class KustomizeRunner(Protocol):
    """Builds a kustomization folder into a YAML stream."""

    def build(self, directory: Path) -> bytes | None:
        """The built manifests; None when no kustomize tool is installed. Raises RenderError on failure."""
        ...


@dataclass(frozen=True, slots=True)
class SubprocessKustomize:
    """Runs `kubectl kustomize DIR`, or `kustomize build DIR` when kubectl is not on PATH."""

    which: Callable[[str], str | None] = shutil.which
    """Finds a program on PATH; replaceable so a test can pretend nothing is installed."""
    timeout: float = KUSTOMIZE_TIMEOUT_SECONDS

    def build(self, directory: Path) -> bytes | None:
        if kubectl := self.which("kubectl"):
            argv = [kubectl, "kustomize", str(directory)]
        elif kustomize := self.which("kustomize"):
            argv = [kustomize, "build", str(directory)]
        else:
            return None
        command = f"{Path(argv[0]).name} {argv[1]}"
        try:
            completed = subprocess.run(argv, capture_output=True, timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            message = (
                f"{command} did not finish within {self.timeout:g} s; check the kustomization's remote bases"
            )
            raise RenderError(message) from None
        except OSError as exc:
            raise RenderError(
                f"{command} could not be run ({exc.strerror}); check its installation"
            ) from None
        if completed.returncode != 0:
            raise RenderError(f"{command} failed: {_one_line(completed, directory)}; fix the kustomization")
        return completed.stdout


def _one_line(completed: subprocess.CompletedProcess[bytes], directory: Path) -> str:
    """The tool's stderr on one line, without its log prefix and with paths relative to the app.

    The folder is often a temporary export of the Git tree, whose name means nothing to a user.
    """
    detail = " ".join(completed.stderr.decode(errors="replace").split())
    if klog := _KLOG_FAILURE.match(detail):
        detail = klog["err"]
    detail = detail.replace(f"{directory}/", "").replace(str(directory), ".")
    return detail.removeprefix("error: ").removeprefix("Error: ") or f"exit code {completed.returncode}"
