"""What an attached TUI asks an agent to do: sync, refresh, and the session's sync policy.

- `POST /api/v1/apps/{app}/sync` with `{"prune": bool, "dryRun": bool}` (both optional, false) runs
  the sync the TUI runs (core.operations.sync_now: the same guards, apply and audit line), on a
  worker thread so the loop goes on serving, and answers 200 `{"result": {"ok", "message",
  "revision", "dryRun", "startedAt", "retries", "resources": [{"group", "kind", "namespace", "name",
  "action", "message"}], "leftovers": [{"group", "kind", "namespace", "name", "reason", "changes"}]}}`;
  `leftovers` are what is still OutOfSync right after (drift rule 7), and `ok` is false when a
  resource failed. One sync per app at a time: a second request meanwhile is 409.
- `POST /api/v1/apps/{app}/refresh`: fetch Git now and relist the app's cluster; 202.
- `POST /api/v1/apps/{app}/policy` with `{"automated": bool, "selfHeal": bool}` (either may be left
  out): for this agent's run only, as the TUI's toggles; 200 `{"app", "policy": {"automated",
  "selfHeal", "prune"}}`.

Sync and policy on a read-only agent are 403 with the contract's sentence; an app whose cluster
kubedrift.yaml makes read-only is 403 with why; an app whose Lease another agent holds is 409
naming that agent. A sync that cannot run (no usable cluster, nothing rendered) is 422 with the
engine's sentence; a sync that ran but could not be audited is 500, with the result beside the error.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from agent.documents import policy_json
from core.audit import AuditWriteError
from core.cluster import ReadOnlyError
from core.errors import KubedriftError
from core.model import ResourceAction, SyncResult, revision_label
from core.operations import read_only_reason_for, sync_now
from core.redact import redact_text
from core.sync_verdict import Leftover

if TYPE_CHECKING:
    from agent.service import AgentService


def add_action_routes(app: web.Application, key: web.AppKey[AgentService]) -> None:
    def service_of(request: web.Request) -> AgentService:
        return request.app[key]

    async def sync(request: web.Request) -> web.Response:
        return await sync_request(service_of(request), request)

    async def refresh(request: web.Request) -> web.Response:
        return await refresh_request(service_of(request), request)

    async def policy(request: web.Request) -> web.Response:
        return await policy_request(service_of(request), request)

    app.router.add_post("/api/v1/apps/{app}/sync", sync)
    app.router.add_post("/api/v1/apps/{app}/refresh", refresh)
    app.router.add_post("/api/v1/apps/{app}/policy", policy)


def _error(status: int, message: str, **extra: Any) -> web.Response:
    from agent.server import error_response

    return error_response(status, message, **extra)


def _json(document: Any, status: int = 200) -> web.Response:
    from agent.server import json_response

    return json_response(document, status)


def read_only_sentence(service: AgentService) -> str:
    return (
        f"the agent {service.identity.name} is read-only: set agent.allowWrites: true in its "
        "kubedrift.yaml to let it write"
    )


def _refusal(service: AgentService, app: str, *, writes: bool) -> web.Response | None:
    """Why this agent will not act on `app` now, as a response; None when it will."""
    if app not in service.engine.apps:
        return _error(404, f"this agent has no app named {app!r}; GET /api/v1/status lists its apps")
    if not writes:
        return None
    if service.identity.read_only:
        return _error(403, read_only_sentence(service))
    reason = read_only_reason_for(service.engine, app)
    if reason is not None:
        return _error(403, f"refusing to write to {app}: {reason}")
    refusal = service.engine.act_refusal(app)  # the app's Lease (core.shard_membership): "held by OTHER"
    if refusal is not None:
        return _error(409, refusal)
    return None


async def _body(request: web.Request, allowed: dict[str, type]) -> dict[str, Any] | web.Response:
    """The request's JSON object, with only `allowed` keys of their types; a 400 response otherwise."""
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "the request body is not JSON: send a JSON object")
    if body is None:
        return {}
    if not isinstance(body, dict):
        return _error(400, "the request body must be a JSON object")
    for name, value in body.items():
        wanted = allowed.get(name)
        if wanted is None:
            return _error(400, f"unknown field {name!r}: the fields are {', '.join(allowed)}")
        if not isinstance(value, wanted):
            return _error(400, f"{name} must be a {wanted.__name__}, not {type(value).__name__}")
    return body


async def sync_request(service: AgentService, request: web.Request) -> web.Response:
    app = request.match_info["app"]
    refusal = _refusal(service, app, writes=True)
    if refusal is not None:
        return refusal
    body = await _body(request, {"prune": bool, "dryRun": bool})
    if isinstance(body, web.Response):
        return body
    if app in service.syncing:
        return _error(409, f"a sync of {app} is already under way on this agent; wait for its result")
    service.syncing.add(app)
    engine = service.engine
    try:
        result = await asyncio.to_thread(
            sync_now, engine, app, prune=bool(body.get("prune")), dry_run=bool(body.get("dryRun"))
        )
    except AuditWriteError as error:
        return _error(500, str(error), result=sync_result_json(app, error.result, ()))
    except ReadOnlyError as error:
        return _error(403, redact_text(str(error)))
    except KubedriftError as error:
        return _error(422, redact_text(str(error)))
    finally:
        service.syncing.discard(app)
    leftovers = () if result.dry_run else engine.apps[app].leftovers
    return _json({"result": sync_result_json(app, result, leftovers)})


async def refresh_request(service: AgentService, request: web.Request) -> web.Response:
    app = request.match_info["app"]
    refusal = _refusal(service, app, writes=False)
    if refusal is not None:
        return refusal
    service.engine.refresh(app)
    return _json({"refreshing": app}, status=202)


async def policy_request(service: AgentService, request: web.Request) -> web.Response:
    app = request.match_info["app"]
    refusal = _refusal(service, app, writes=True)
    if refusal is not None:
        return refusal
    body = await _body(request, {"automated": bool, "selfHeal": bool})
    if isinstance(body, web.Response):
        return body
    changed = service.engine.set_policy(app, automated=body.get("automated"), self_heal=body.get("selfHeal"))
    return _json({"app": app, "policy": policy_json(changed.sync_policy)})


def sync_result_json(app: str, result: SyncResult, leftovers: tuple[Leftover, ...]) -> dict[str, Any]:
    return {
        "ok": not result.failed,
        "message": sync_message(app, result, leftovers),
        "revision": result.revision,
        "dryRun": result.dry_run,
        "startedAt": result.started_at,
        "retries": result.retries,
        "resources": [
            {
                "group": outcome.key.group,
                "kind": outcome.key.kind,
                "namespace": outcome.key.namespace,
                "name": outcome.key.name,
                "action": str(outcome.action),
                "message": redact_text(outcome.message),
            }
            for outcome in result.outcomes
        ],
        "leftovers": [
            {
                "group": leftover.key.group,
                "kind": leftover.key.kind,
                "namespace": leftover.key.namespace,
                "name": leftover.key.name,
                "reason": leftover.reason,
                "changes": [change.to_json() for change in leftover.changes],
            }
            for leftover in leftovers
        ],
    }


def sync_message(app: str, result: SyncResult, leftovers: tuple[Leftover, ...]) -> str:
    """`synced shop to 1a2b3c4d5e6f: 1 configured, 4 unchanged`, as one line a person reads."""
    counts: dict[str, int] = {}
    for outcome in result.outcomes:
        counts[str(outcome.action)] = counts.get(str(outcome.action), 0) + 1
    order = [str(action) for action in ResourceAction]
    tally = ", ".join(f"{counts[name]} {name}" for name in order if name in counts) or "nothing to apply"
    verb = "dry run of the sync of" if result.dry_run else "sync of" if result.failed else "synced"
    text = (
        f"{verb} {app} {'at' if result.dry_run or result.failed else 'to'} {revision_label(result.revision)}"
    )
    text += f": {tally}"
    if result.failed and result.message:
        text += f"; stopped at {result.message}"
    if leftovers:
        text += f"; {len(leftovers)} still OutOfSync after it"
    return redact_text(text)
