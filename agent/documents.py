"""The agent's JSON documents as bytes: its status (`check -o json`'s document, built by that command's
own code, plus what an agent adds), one app's entry, and the policy shape its actions answer with.

They are encoded on a worker thread from frozen snapshots (agent.service), with orjson.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from core.model import AppStatus, SyncPolicy
from tui.commands.report import check_document


def encode_status(
    statuses: list[AppStatus],
    sequence: int,
    agent: Mapping[str, Any],
    policies: Mapping[str, Mapping[str, bool]] | None = None,
) -> bytes:
    """`check -o json`'s document (built by its own code), with `sequence` and `agent`, and each app's
    `policy` as this agent runs it, as JSON bytes."""
    document = check_document(statuses)
    for entry in document["apps"]:
        if policies is not None and entry["name"] in policies:
            entry["policy"] = policies[entry["name"]]
    document["sequence"] = sequence
    document["agent"] = agent
    return dumps(document)


def encode_app(status: AppStatus, sequence: int, policy: Mapping[str, bool] | None = None) -> bytes:
    (document,) = check_document([status])["apps"]
    if policy is not None:
        document["policy"] = policy
    document["sequence"] = sequence
    return dumps(document)


def policy_json(policy: SyncPolicy) -> dict[str, bool]:
    """`{"automated", "selfHeal", "prune"}`: the shape the policy action answers with."""
    return {"automated": policy.automated, "selfHeal": policy.self_heal, "prune": policy.prune}


def dumps(document: Any) -> bytes:
    """JSON as orjson writes it; a value orjson does not know (a read-only mapping) as plain JSON."""
    return orjson.dumps(document, default=_plain, option=orjson.OPT_NON_STR_KEYS)


def _plain(value: Any) -> Any:
    from agent.resources import plain

    converted = plain(value)
    if converted is value:
        return str(value)
    return converted
