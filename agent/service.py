"""The agent's service: the engine, run live as `watch` runs it, and what its statuses feed.

The engine is built read-only unless kubedrift.yaml says `agent: {allowWrites: true}`; then, as
for the TUI, a context kubedrift.yaml marks read-only stays so. `engine.run(publish, stop)` is
called exactly as `kubedrift watch` calls it; each published batch
- goes to the stream as the lines `watch -o jsonl` would print (the same `is_transition` filter),
  each numbered, with the agent's name (agent.stream);
- goes to the metrics (agent.metrics, when it is installed);
- makes the agent ready, the first time: the engine has listed every cluster by then.

Everything the HTTP handlers read of the engine is read on the engine's own loop, where the engine
changes it, so a status document and the stream's sequence number taken together are consistent:
nothing can be published between the two. Turning a large document into bytes happens on a worker
thread, from frozen snapshots, so the loop never waits on it.

SIGTERM and SIGINT set the engine's stop event; the streams are ended, the server closed, and the
process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import secrets
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any, Final

from agent.documents import encode_app, encode_status, policy_json
from agent.options import AgentOptions
from agent.stream import RETAINED_LINES, LineStream
from core.config import Config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import AppStatus
from core.redact import redact_text
from core.sharding import Shard
from core.status_events import StatusChange
from tui.commands.watch import is_transition

if TYPE_CHECKING:
    from agent.metrics import AgentMetrics
    from core.shard_membership import ShardCoordinator

STARTING: Final = "starting: connecting to the clusters and listing their objects"
STOP_GRACE_SECONDS: Final = 10.0
"""How long a stopping agent waits for the engine to end (a pod's default grace period is 30 s)."""


def _version() -> str:
    try:
        return metadata.version("kubedrift")
    except metadata.PackageNotFoundError:
        return "0.1.0"


VERSION: Final = _version()


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    """Who this agent is, as the status document's `agent` key says."""

    name: str
    shard: Shard | None
    read_only: bool
    stream_id: str = dataclasses.field(default_factory=lambda: secrets.token_hex(8))
    """This process's stream: its sequence numbers count from 1 again in the next process, so a client
    resuming with `since=N` must know it is still talking to the same one (header STREAM_ID_HEADER)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shard": None if self.shard is None else str(self.shard),
            "readOnly": self.read_only,
            "version": VERSION,
            "streamId": self.stream_id,
        }


class AgentService:
    """The engine and everything fed by what it publishes: the stream, the metrics, readiness."""

    def __init__(
        self,
        engine: Engine,
        identity: AgentIdentity,
        *,
        retained_lines: int = RETAINED_LINES,
        options: AgentOptions | None = None,
    ) -> None:
        self.engine = engine
        self.identity = identity
        self.options = options
        self.stream = LineStream(retained_lines)
        self.ready = False
        self.waiting_for = STARTING
        """Why the agent is not ready, for /readyz."""
        self.metrics: AgentMetrics | None = None
        self.metrics_missing = ""
        """Why there are no metrics (agent.metrics could not be loaded); empty when there are."""
        self.syncing: set[str] = set()
        """Apps with a sync requested over the API under way: a second request waits for none."""
        self.coordinator: ShardCoordinator | None = None
        """The Lease coordinator (core.shard_membership), when writes are allowed or a shard is given."""
        self.lease_holder: Callable[[str], str | None] | None = None
        """Who holds an app's Lease when it is not this agent (None: this agent, or no Leases);
        set by the sharding coordinator (see _start_sharding)."""
        self.abandoned = False
        """Set when the engine did not end within STOP_GRACE_SECONDS of the stop and was cancelled."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._load_metrics()

    def _load_metrics(self) -> None:
        try:
            from agent.metrics import AgentMetrics
        except ImportError as error:  # the metrics module or prometheus-client is not installed
            self.metrics_missing = f"metrics not available: {error}"
            return
        shard = None if self.identity.shard is None else str(self.identity.shard)
        self.metrics = AgentMetrics(
            self.engine, identity=self.identity.name, shard=shard, read_only=self.identity.read_only
        )

    # What the engine publishes.

    def publish(self, changes: list[StatusChange]) -> None:
        """The engine's publish callback: on the loop, or handed to it from another thread."""
        if self._loop is not None and threading.get_ident() != self._loop_thread:
            self._loop.call_soon_threadsafe(self.publish, changes)
            return
        for change in changes:
            if is_transition(change):
                document = change.to_json()
                self.stream.append(document, change.app, agent=self.identity.name)
        if self.metrics is not None:
            try:
                self.metrics.publish(changes)
            except Exception as error:  # a bug in the metrics must not stop the engine that feeds them
                self._metrics_failed(error)
        if not self.ready:
            self.ready = True  # the engine publishes its first statuses once every cluster is listed
            self.waiting_for = ""

    def _metrics_failed(self, error: Exception) -> None:
        if not self.metrics_missing:
            print(
                "kubedrift agent: the metrics failed and are no longer updated; this is a bug in kubedrift: "
                f"{type(error).__name__}: {redact_text(str(error))[:300]}",
                file=sys.stderr,
                flush=True,
            )
        self.metrics_missing = "the metrics failed; the agent's stderr says why"
        self.metrics = None

    # What the handlers read, on the loop.

    def status_snapshot(self) -> tuple[list[AppStatus], int]:
        """Every app's snapshot and the number of the last stream line they include, taken together."""
        return self.engine.statuses(), self.stream.last

    def policies(self) -> dict[str, dict[str, bool]]:
        """Each app's sync policy as this agent runs it now (the attached TUI's POLICY column)."""
        return {name: policy_json(runtime.app.sync_policy) for name, runtime in self.engine.apps.items()}

    def app_snapshot(self, app: str) -> tuple[AppStatus, int]:
        runtime = self.engine.apps[app]
        status = runtime.status()
        if runtime.app.parent:
            status = dataclasses.replace(status, parent=runtime.app.parent)
        return status, self.stream.last

    async def status_body(self) -> bytes:
        """The `/api/v1/status` document as bytes: snapshot on the loop, encoded on a worker thread."""
        statuses, sequence = self.status_snapshot()
        policies = self.policies()
        agent = self.identity.to_json()
        return await asyncio.to_thread(encode_status, statuses, sequence, agent, policies)

    async def app_body(self, app: str) -> bytes:
        status, sequence = self.app_snapshot(app)
        policy = policy_json(self.engine.apps[app].app.sync_policy)
        return await asyncio.to_thread(encode_app, status, sequence, policy)

    # Running.

    async def run(self, stop: asyncio.Event) -> None:
        """Run the engine until `stop` is set; the stream is closed when it ends, however it ends."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        background: list[asyncio.Task[None]] = []
        try:
            if self.identity.shard is not None or not self.identity.read_only:
                background = await self._start_sharding(stop)
            await self.engine.run(self.publish, stop)
        finally:
            self.stream.close()
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _start_sharding(self, stop: asyncio.Event) -> list[asyncio.Task[None]]:
        """The sharding hook: start the Lease coordinator (core.shard_membership) when writes are
        allowed or a shard is given; returns its tasks, cancelled when the agent stops. With writes
        allowed it sets `lease_holder`, which turns action requests on apps another agent holds into 409."""
        if self.coordinator is None:
            await asyncio.to_thread(self.prepare_sharding)
        coordinator = self.coordinator
        assert coordinator is not None
        if coordinator.hold_app_leases:
            self.lease_holder = lambda app: None if coordinator.may_act(app) else coordinator.holder_of(app)
            if self.metrics is not None:
                self.metrics.held_apps = coordinator.held_apps
        return [asyncio.create_task(coordinator.run(stop))]

    def prepare_sharding(self) -> None:
        """Build the coordinator and take its first look at the Leases (blocking): the engine starts
        with this agent's apps only. A Lease that cannot be used is one sentence (LeaseError)."""
        import os

        from core.shard_membership import coordinate

        options = self.options
        self.coordinator = coordinate(
            self.engine,
            identity=self.identity.name,
            version=VERSION,
            shard=self.identity.shard,
            hold_app_leases=not self.identity.read_only,
            lease_namespace=options.lease_namespace if options is not None else "kubedrift",
            lease_context=options.lease_context if options is not None else None,
            environ=os.environ,
            warn=lambda text: print(f"kubedrift agent: {text}", file=sys.stderr, flush=True),
        )


# Building the agent.


def build_service(
    config: Config,
    options: AgentOptions,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    force_read_only: bool = False,
) -> AgentService:
    """The engine (read-only unless `agent.allowWrites`) and the service around it. Reads nothing
    from the clusters: the engine connects when it runs."""
    read_only = force_read_only or not config.agent.allow_writes
    # Not narrowed to the shard's apps: the coordinator chooses them, and takes on a dead shard's.
    engine = Engine(
        config,
        load_kubeconfig(kubeconfig),
        context=context,
        read_only=read_only,
        base_dir=config.path.parent if config.path is not None else None,
        watch_tree=False,
    )
    identity = AgentIdentity(options.identity, options.shard, read_only)
    return AgentService(engine, identity, retained_lines=options.retained_lines, options=options)


def start_line(service: AgentService, url: str) -> str:
    shard = service.identity.shard or Shard(0, 1)
    mode = "read-only" if service.identity.read_only else "writes allowed"
    count = len(service.engine.apps)
    return (
        f"kubedrift agent: serving on {url} ({mode}), shard {shard}, {count} app{'s' if count != 1 else ''}"
    )


async def run_agent(
    service: AgentService,
    sock: socket.socket,
    *,
    tls: ssl.SSLContext | None,
    stop: asyncio.Event,
    on_serving: Callable[[str], None] | None = None,
) -> None:
    """Serve the API on `sock` and run the engine until `stop` is set; `on_serving` gets the URL once
    the server answers."""
    from agent.server import AgentServer

    assert service.options is not None
    server = AgentServer(service, service.options)
    url = await server.start(sock, tls)
    try:
        if on_serving is not None:
            on_serving(url)
        await _run_until_stopped(service, stop)
    finally:
        await server.stop()


async def _run_until_stopped(service: AgentService, stop: asyncio.Event) -> None:
    """Run the engine; once `stop` is set, give it STOP_GRACE_SECONDS to end, then cancel it.

    The engine sees `stop` between its steps, but a step can be a blocking call to a cluster that
    does not answer (connecting at start); a stopped agent must not wait for that, or Kubernetes
    kills it at the end of the pod's grace period. `service.abandoned` says it was given up."""
    running = asyncio.create_task(service.run(stop))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not running.done():
            done, _ = await asyncio.wait({running}, timeout=STOP_GRACE_SECONDS)
            if not done:
                service.abandoned = True
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
                return
        await running  # its own error, if it failed
    finally:
        stopping.cancel()


def serve(
    config: Config,
    options: AgentOptions,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    force_read_only: bool = False,
) -> int:
    """`kubedrift agent`: everything a user can get wrong is checked before the engine starts; then
    serve until SIGTERM or SIGINT, and return 0."""
    from agent.options import bind, tls_context
    from agent.server import check_auth

    check_auth(options)  # an unreadable token file is one sentence
    tls = tls_context(options)
    service = build_service(
        config, options, kubeconfig=kubeconfig, context=context, force_read_only=force_read_only
    )
    if service.identity.shard is not None or not service.identity.read_only:
        service.prepare_sharding()  # a Lease it cannot use is one sentence before anything is served
    sock = bind(options.listen)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_serve_until_signalled(service, sock, tls))
    finally:
        sock.close()
        if service.abandoned:
            # A worker thread is still inside a call to a cluster that does not answer: waiting for
            # it (as closing the loop and the interpreter's exit do) would outlast the grace period.
            print(
                f"kubedrift agent: stopped without waiting for the engine, still in a call to a cluster "
                f"after {STOP_GRACE_SECONDS:g} s",
                file=sys.stderr,
            )
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
    return 0


async def _serve_until_signalled(
    service: AgentService, sock: socket.socket, tls: ssl.SSLContext | None
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    assert service.options is not None
    options = service.options

    def announce(url: str) -> None:
        print(start_line(service, url), file=sys.stderr, flush=True)
        if options.insecure_no_auth:
            print(
                "kubedrift agent: --insecure-no-auth: /api/ answers anyone who can reach it, without a token",
                file=sys.stderr,
                flush=True,
            )
        elif options.token_file is None:
            print(
                "kubedrift agent: no --token-file: every /api/ request is refused (401); "
                "give --token-file FILE, or --insecure-no-auth for local use",
                file=sys.stderr,
                flush=True,
            )

    await run_agent(service, sock, tls=tls, stop=stop, on_serving=announce)
