"""The status line and the status feed are bases that only their subclasses fill in: Python refuses to
build one that leaves a source out, instead of failing later on screen."""

from __future__ import annotations

import pytest

from tui.widgets.status_bar import StatusLine
from tui.widgets.status_feed import StatusFeed


def test_the_bases_cannot_be_built_without_their_sources() -> None:
    with pytest.raises(TypeError, match="source_parts"):
        StatusLine(read_only=False)  # type: ignore[abstract]
    with pytest.raises(TypeError, match="_begin, knows"):
        StatusFeed()  # type: ignore[abstract]


def test_a_subclass_that_names_its_sources_is_a_widget() -> None:
    class Quiet(StatusLine):
        def source_parts(self) -> list[str]:
            return ["nowhere"]

    line = Quiet(read_only=True)
    assert line.source_parts() == ["nowhere"] and line.read_only
