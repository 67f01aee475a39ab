"""What the app screen says of an app's family (app of apps, core.app_of_apps): the app that renders
it, and the child apps it renders with how each stands."""

from __future__ import annotations

from collections.abc import Iterable

from core.app_of_apps import CHILD_KINDS
from core.engine import Engine
from tui.status_text import status_label


def family_details(engine: Engine, app: str) -> tuple[str, ...]:
    """`parent app: apps`, and one `child app: guestbook  ✓ Synced  ♥ Healthy` per child, by name."""
    runtime = engine.apps.get(app)
    if runtime is None:
        return ()
    details: list[str] = []
    if runtime.app.parent:
        details.append(f"parent app: {runtime.app.parent}")
    children = sorted(name for name, child in engine.apps.items() if child.app.parent == app)
    for name in children:
        reconciler = engine.apps[name].reconciler
        loaded = engine.apps[name].desired.revision is not None
        sync, health = (str(reconciler.sync), str(reconciler.health)) if loaded else ("Loading", "Loading")
        details.append(f"child app: {name}  {status_label(sync)}  {status_label(health)}")
    return tuple(details)


def family_notes(engine: Engine, app: str) -> tuple[str, ...]:
    """Why the objects of child apps are not among the app's resources, when its cluster does not
    serve their kind: kubedrift stands in for Argo CD (or Flux) there, and applies none of them."""
    runtime, rendered = engine.apps.get(app), engine.rendered.get(app)
    if runtime is None or rendered is None:
        return ()
    kinds = sorted(
        {
            key.kind
            for key in rendered.objects
            if (key.group, key.kind) in CHILD_KINDS and key not in runtime.desired.objects
        }
    )
    if not kinds:
        return ()
    return (
        f"The cluster serves no kind {' or '.join(kinds)}: the ones this app renders are child apps only "
        "(kubedrift stands in for the controller that would run them), never applied or compared.",
    )


def touches_family(engine: Engine, app: str, changed: Iterable[str]) -> bool:
    """Whether the apps in `changed` include `app` or one of its child apps, whose lines it lists."""
    return any(
        name == app or ((child := engine.apps.get(name)) is not None and child.app.parent == app)
        for name in changed
    )
