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


@dataclass(frozen=True, slots=True)
class ScalePlan:
    """`--scale N` (issue 16): the live figures again with N objects, and the ratios of that issue."""

    objects: int
    engine_samples: int
    screen_samples: int
    start_runs: int
    """Engine starts and `kubectl get` lists each, interleaved; the ratio is of their medians."""
    idle_seconds: float
    rows_small: int
    rows_large: int
    row_samples: int
    sync_objects: int
    sync_runs: int
    """`kubedrift sync` and `kubectl apply --server-side` runs each, interleaved."""

    FULL_FROM = 50_000
    """From here on the plan is the issue's: its row counts, its 10,000-object sync, its samples."""

    @classmethod
    def of(cls, objects: int) -> ScalePlan:
        """The issue's plan at 100,000 (and anything from FULL_FROM up); a smaller, faster one below,
        with the same figures (`--scale 2k` checks the whole path in about two minutes)."""
        if objects >= cls.FULL_FROM:
            return cls(
                objects=objects,
                engine_samples=200,
                screen_samples=100,
                start_runs=3,
                idle_seconds=30.0,
                rows_small=500,
                rows_large=5_000,
                row_samples=30,
                sync_objects=10_000,
                sync_runs=3,
            )
        return cls(
            objects=objects,
            engine_samples=40,
            screen_samples=20,
            start_runs=2,
            idle_seconds=5.0,
            rows_small=50,
            rows_large=500,
            row_samples=10,
            sync_objects=min(10_000, max(100, objects // 10)),
            sync_runs=2,
        )
