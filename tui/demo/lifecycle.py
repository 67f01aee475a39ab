"""The demo's world and its lifetime: a temp folder, the sandbox cluster, the sample repo, the first sync.

`DemoWorkspace.create()` builds everything in a fresh temp folder and `close()` takes it all down
again: the sandbox stops, and the folder goes unless `keep`. While it lives, kubedrift's audit file
is redirected into the folder (`$XDG_STATE_HOME`), so the demo's syncs never land in the user's real
audit trail; `close()` puts the variable back.

The screenshot script and the tests use this directly; `run_demo` wraps it for the command line.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Collection
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from core.config import Config, load_config
from core.engine import Engine
from core.errors import KubedriftError
from core.kubeconfig import Kubeconfig, load_kubeconfig
from core.model import AppStatus, AppSync, Health, ResourceAction, SyncResult
from core.operations import sync_now
from sandbox.controllers import default_controllers
from sandbox.handle import CONTEXT_NAME, SandboxThread
from tui.demo.ingress_address import IngressAddressController
from tui.demo.sample_repo import SHOP, SampleRepo, write_sample

STATE_ENV_VAR: Final = "XDG_STATE_HOME"
KUBECONFIG_FILE: Final = "kubeconfig"
STATE_FOLDER: Final = "state"
SETTLE_POLL_SECONDS: Final = 0.2


class DemoWorkspace:
    """A running sandbox with the sample apps deployed, in a temp folder of its own."""

    def __init__(
        self, root: Path, sandbox: SandboxThread, repo: SampleRepo, config_path: Path, *, keep: bool
    ):
        self.root = root
        self.sandbox = sandbox
        self.repo = repo
        self.config_path = config_path
        self.kubeconfig_path = root / KUBECONFIG_FILE
        self.keep = keep
        self.closed = False
        self.config: Config = load_config(config_path)
        self._previous_state_home = os.environ.get(STATE_ENV_VAR)
        os.environ[STATE_ENV_VAR] = str(root / STATE_FOLDER)

    @classmethod
    def create(cls, *, keep: bool = False, parent: Path | None = None) -> DemoWorkspace:
        """A new temp folder (under `parent` when given) with the sandbox running and the repo written."""
        root = Path(tempfile.mkdtemp(prefix="kubedrift-demo-", dir=parent))
        sandbox: SandboxThread | None = None
        try:
            sandbox = SandboxThread(controllers=[*default_controllers(), IngressAddressController()])
            sandbox.kubeconfig(root / KUBECONFIG_FILE)
            repo, config_path = write_sample(root)
            return cls(root, sandbox, repo, config_path, keep=keep)
        except BaseException:
            if sandbox is not None:
                sandbox.stop()
            if not keep:
                shutil.rmtree(root, ignore_errors=True)
            raise

    # What the user is told.

    @property
    def export_line(self) -> str:
        return f"export KUBECONFIG={self.kubeconfig_path}"

    @property
    def banner(self) -> str:
        """The status bar's hint: a drift the user can make from another terminal."""
        return f"KUBECONFIG={self.kubeconfig_path} kubectl -n {SHOP.namespace} scale deploy/web --replicas=5"

    # Engines and the first sync.

    def kubeconfig(self) -> Kubeconfig:
        return load_kubeconfig(str(self.kubeconfig_path), environ={})

    def engine(self, **options: Any) -> Engine:
        """An engine over the demo's config and cluster; `options` go to `Engine` (watch_tree, ...)."""
        return Engine(
            self.config, self.kubeconfig(), context=CONTEXT_NAME, base_dir=self.config_path.parent, **options
        )

    def sync_all(self, apps: Collection[str] | None = None) -> dict[str, SyncResult]:
        """Sync every app (or those named in `apps`) once, as a user's first `kubedrift sync` would;
        a failed resource is an error."""
        engine = self.engine(watch_tree=False)
        engine.evaluate()
        results: dict[str, SyncResult] = {}
        for name in engine.apps:
            if apps is not None and name not in apps:
                continue
            result = sync_now(engine, name)
            if result.failed:
                first = next(o for o in result.outcomes if o.action is ResourceAction.FAILED)
                raise KubedriftError(
                    f"the demo could not deploy {first.key} of app {name}: {first.message}; "
                    "run `kubedrift demo --keep` and look at the files it leaves"
                )
            results[name] = result
        return results

    def wait_until_settled(
        self, timeout: float = 20.0, apps: Collection[str] | None = None
    ) -> list[AppStatus]:
        """The apps' statuses once all (or those named in `apps`) are Synced and Healthy, or as they
        are when `timeout` runs out."""
        deadline = time.monotonic() + timeout
        while True:
            statuses = self.engine(watch_tree=False).evaluate()
            settled = all(
                s.sync is AppSync.SYNCED and s.health is Health.HEALTHY
                for s in statuses
                if apps is None or s.name in apps
            )
            if settled or time.monotonic() >= deadline:
                return statuses
            time.sleep(SETTLE_POLL_SECONDS)

    # Taking it down.

    def close(self) -> None:
        """Stop the sandbox, restore $XDG_STATE_HOME, and remove the folder unless `keep`; idempotent."""
        if self.closed:
            return
        self.closed = True
        try:
            self.sandbox.stop()
        finally:
            if self._previous_state_home is None:
                os.environ.pop(STATE_ENV_VAR, None)
            else:
                os.environ[STATE_ENV_VAR] = self._previous_state_home
            if not self.keep:
                shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> DemoWorkspace:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
