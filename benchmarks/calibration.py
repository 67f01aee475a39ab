"""Calibration: two fixed workloads measured in the same run as the figures.

A figure on its own says as much about the machine (and whoever else is using it) as about
kubedrift. These two make a run comparable with another: a pure-Python loop (the interpreter's
speed) and `json.loads` of a fixed ~3 KB watch event (the parser everything else is compared with).
They are measured at the start and at the end of a run; a big gap between the two means the
machine was busier during one part of the run than another.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any, Final

from benchmarks.fixtures import manifest

LOOP_ITERATIONS: Final = 1_000_000
JSON_LOADS_PER_RUN: Final = 2_000
RUNS: Final = 7


def calibration_document() -> bytes:
    """A fixed watch event of a Deployment as a server sends it: about 3 KB of compact JSON."""
    obj: dict[str, Any] = manifest(0)
    obj["metadata"] = {
        **obj["metadata"],
        "uid": "0b5e8f0e-2f4a-4c8e-9d3b-7f6a5e4d3c2b",
        "resourceVersion": "123456",
        "generation": 1,
        "creationTimestamp": "2025-01-02T03:04:05Z",
        "managedFields": [
            {
                "manager": "kubedrift",
                "operation": "Apply",
                "apiVersion": "apps/v1",
                "time": "2025-01-02T03:04:05Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": _field_trie(obj),
            },
        ],
    }
    obj["status"] = {
        "observedGeneration": 1,
        "replicas": 1,
        "updatedReplicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 1,
        "conditions": [
            {
                "type": "Available",
                "status": "True",
                "lastUpdateTime": "2025-01-02T03:04:05Z",
                "lastTransitionTime": "2025-01-02T03:04:05Z",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
            },
        ],
    }
    return json.dumps({"type": "MODIFIED", "object": obj}, separators=(",", ":")).encode()


def _field_trie(value: Any) -> Any:
    """A managedFields-like trie of a manifest's fields (`f:name` per key; lists owned whole)."""
    if isinstance(value, dict):
        return {
            f"f:{key}": _field_trie(child)
            for key, child in value.items()
            if key not in ("apiVersion", "kind")
        }
    return {}


def python_loop_ms() -> float:
    """Median milliseconds of a fixed integer loop of LOOP_ITERATIONS steps."""

    def loop() -> int:
        total = 0
        for value in range(LOOP_ITERATIONS):
            total += value * value % 7
        return total

    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        loop()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def json_loads_us() -> float:
    """Median microseconds of one `json.loads` of `calibration_document()`."""
    document = calibration_document()
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(JSON_LOADS_PER_RUN):
            json.loads(document)
        samples.append((time.perf_counter() - start) / JSON_LOADS_PER_RUN)
    return statistics.median(samples) * 1e6


def calibrate() -> dict[str, float]:
    return {
        "python_loop_ms": python_loop_ms(),
        "json_loads_3kb_us": json_loads_us(),
        "json_document_bytes": float(len(calibration_document())),
    }
