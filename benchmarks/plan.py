"""How big and how long: the default run (10,000 objects, the budgets' scale) and `--quick`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Plan:
    objects: int
    """Objects in the fleet: managed by its one app, in the sandbox and on disk."""
    engine_samples: int
    screen_samples: int
    git_manifests: int
    git_samples: int
    ingest_repeat: int
    rediff_repeat: int
    first_frame_runs: int
    idle_seconds: float
    dashboard_apps: int
    rows_small: int
    rows_large: int
    row_samples: int
    quick: bool
    agent_samples: int = 200
    """Drift and repair samples through one `kubedrift agent` (its stream against in-process)."""

    @classmethod
    def default(cls) -> Plan:
        return cls(
            objects=10_000,
            engine_samples=200,
            screen_samples=100,
            git_manifests=2_000,
            git_samples=20,
            ingest_repeat=5,
            rediff_repeat=7,
            first_frame_runs=3,
            idle_seconds=30.0,
            dashboard_apps=1_000,
            rows_small=1_000,
            rows_large=10_000,
            row_samples=30,
            quick=False,
        )

    @classmethod
    def quick_run(cls) -> Plan:
        """About 1,000 objects; within two minutes on a 2-core machine. For CI: every figure, smaller."""
        return cls(
            objects=1_000,
            engine_samples=40,
            screen_samples=30,
            git_manifests=1_000,
            git_samples=8,
            ingest_repeat=3,
            rediff_repeat=3,
            first_frame_runs=1,
            idle_seconds=10.0,
            dashboard_apps=100,
            rows_small=100,
            rows_large=1_000,
            row_samples=15,
            quick=True,
            agent_samples=40,
        )
