"""The drift comparator against the real-world corpus (tests/fixtures/realworld, issue 12).

Each case's Git manifest is read with kubedrift's own reader, placed in the case's namespace as the
renderer would, and compared with the stored live object under the rules of its key (no
ignoreDifferences). The verdict and the set of change pointers must be the corpus's. Cases that
only a server-side dry run can decide (`needs_server`) are left out.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.drift.comparator import diff
from core.drift.compiled import compile_checker
from core.drift.rules import rules_for
from core.drift.schema_source import split_api_version
from core.manifest_file import parse_manifest_file
from core.model import ResourceKey
from tests.realworld import RealWorldCase, load_cases

CASES = [case for case in load_cases() if not case.needs_server]

# Cases the local comparator cannot decide yet, with why (strict: they fail until fixed).
KNOWN_GAPS: dict[str, str] = {}


def _desired(case: RealWorldCase) -> dict[str, Any]:
    parsed = parse_manifest_file(f"{case.id}.yaml", case.desired_text.encode())
    assert not parsed.errors, parsed.errors
    assert len(parsed.manifests) == 1
    desired = dict(parsed.manifests[0].obj)
    namespace = (case.live.get("metadata") or {}).get("namespace")
    if namespace and not (desired.get("metadata") or {}).get("namespace"):
        desired["metadata"] = {**desired["metadata"], "namespace": namespace}
    return desired


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, marks=pytest.mark.xfail(reason=KNOWN_GAPS[case.id], strict=True))
        if case.id in KNOWN_GAPS
        else case
        for case in CASES
    ],
    ids=[case.id for case in CASES],
)
def test_realworld_verdict(case: RealWorldCase) -> None:
    desired = _desired(case)
    _, version = split_api_version(str(desired.get("apiVersion") or ""))
    rules = rules_for(ResourceKey.of(desired), version=version)
    drift = diff(desired, case.live, rules)
    pointers = sorted({change.path for change in drift.changes})
    assert (not drift, pointers) == (case.expected.in_sync, sorted(case.expected.changes)), case.why
    # The compiled fast path agrees.
    assert compile_checker(desired, rules).drift(case.live) == drift
