"""What the TUI is started with: loaded once, outside the UI, and handed to the App."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.config import Config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig


@dataclass(frozen=True)
class TuiSettings:
    """The TUI's settings; the CLI, the demo and the tests each build one."""

    config: Config
    kubeconfig: str | None = None
    context: str | None = None
    read_only: bool = False
    theme: str | None = None
    """A theme name (`--theme`); None falls back to the config's `theme:`, then the default."""
    banner: str | None = None
    """One line for the status bar, such as the demo's `KUBECONFIG=... kubectl ...` hint."""
    engine_factory: Callable[[], Engine] | None = None
    """Tests and the demo inject a ready Engine; None builds one from the fields above."""
    git_poll_seconds: float = 30.0

    @property
    def is_read_only(self) -> bool:
        """Read-only for every cluster (`--read-only` or `readOnly: true` at the top of the config)."""
        return self.read_only or self.config.read_only

    def build_engine(self) -> Engine:
        """The live engine; a missing kubeconfig is a one-sentence ClusterConfigError raised here."""
        if self.engine_factory is not None:
            return self.engine_factory()
        base_dir = self.config.path.parent if self.config.path is not None else None
        return Engine(
            self.config,
            load_kubeconfig(self.kubeconfig),
            context=self.context,
            read_only=self.read_only,
            base_dir=base_dir,
            watch_tree=True,
            git_poll_seconds=self.git_poll_seconds,
        )
