"""The engine's choice of top-level apps before it runs, and its gate on acting."""

from __future__ import annotations

from pathlib import Path

from core.config import load_config
from core.engine import Engine


def engine_of(tmp_path: Path, names: list[str]) -> Engine:
    config = tmp_path / "kubedrift.yaml"
    config.write_text(
        "apps:\n"
        + "".join(
            f"  - name: {name}\n    source: {{repoURL: ./gitops, path: apps/{name}}}\n"
            f"    destination: {{namespace: {name}}}\n"
            for name in names
        )
    )
    return Engine(load_config(config), None)


def test_before_it_runs_the_engine_keeps_the_chosen_apps_in_the_configs_order(tmp_path: Path) -> None:
    engine = engine_of(tmp_path, ["a", "b", "c"])
    assert engine.root_app_names() == ["a", "b", "c"]
    engine.set_fleet(["c", "a", "not-in-the-config"])
    assert engine.app_names() == ["a", "c"]
    kept = engine.apps["a"]
    engine.set_fleet(["b", "a"])
    assert engine.app_names() == ["a", "b"]
    assert engine.apps["a"] is kept, "an app kept is not built again"
    engine.set_fleet([])
    assert engine.app_names() == []


class Refusing:
    def may_act(self, app: str) -> bool:
        return app == "a"

    def refusal(self, app: str) -> str:
        return f"the app {app} is held by agent-b"


def test_without_a_gate_every_app_may_be_acted_on_and_with_one_it_decides(tmp_path: Path) -> None:
    engine = engine_of(tmp_path, ["a", "b"])
    assert engine.may_act("a") and engine.may_act("b")
    assert engine.act_refusal("b") is None
    engine.act_gate = Refusing()
    assert engine.may_act("a") and not engine.may_act("b")
    assert engine.act_refusal("a") is None
    assert engine.act_refusal("b") == "the app b is held by agent-b"
