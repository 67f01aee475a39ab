"""RowTable: renders only the lines on screen, repaints one row per change, and moves its cursor."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import App, ComposeResult

from tui.widgets.row_table import Column, RowTable

SIZE = (40, 12)  # the table shows a header and 11 rows


class NumberTable(RowTable):
    """Rows `r0`, `r1`... whose cells are their name and a word; counts which rows were asked to paint."""

    def __init__(self) -> None:
        super().__init__([Column("name", "NAME"), Column("word", "WORD")], self)
        self.words: dict[str, str] = {}
        self.painted: list[str] = []

    def row_cells(self, key: str) -> Sequence[Text]:
        self.painted.append(key)
        return [Text(f"{key} "), Text(self.words.get(key, "-"))]

    def row_widths(self, key: str) -> Sequence[int]:
        return [len(key) + 1, len(self.words.get(key, "-"))]


class TableApp(App[None]):
    def __init__(self, rows: int) -> None:
        super().__init__()
        self.rows = rows
        self.selected: list[str] = []

    def compose(self) -> ComposeResult:
        yield NumberTable()

    def on_mount(self) -> None:
        table = self.query_one(NumberTable)
        table.set_row_keys(f"r{number}" for number in range(self.rows))
        table.focus()

    def on_row_table_row_selected(self, message: RowTable.RowSelected) -> None:
        self.selected.append(message.row_key)


def screen_text(app: App[None]) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_only_the_rows_on_screen_are_rendered_even_with_ten_thousand() -> None:
    app = TableApp(10_000)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(NumberTable)
        assert table.row_count == 10_000
        assert set(table.painted) <= {f"r{number}" for number in range(11)}
        assert "NAME" in screen_text(app) and "r10 " in screen_text(app)


async def test_a_changed_row_repaints_only_itself_and_an_offscreen_one_nothing() -> None:
    app = TableApp(1_000)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(NumberTable)
        table.painted.clear()
        table.words["r3"] = "changed"
        table.refresh_row("r3")
        await pilot.pause()
        assert table.painted == ["r3"]
        assert any(line.split() == ["r3", "changed"] for line in screen_text(app).splitlines())
        table.painted.clear()
        table.words["r500"] = "far"
        table.refresh_row("r500")
        await pilot.pause()
        assert table.painted == [], "a row off screen is painted when it scrolls in, not before"


async def test_cursor_keys_scroll_to_keep_the_cursor_visible_and_enter_selects() -> None:
    app = TableApp(100)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(NumberTable)
        await pilot.press("down", "down")
        assert table.highlighted_key == "r2"
        await pilot.press("pagedown")
        assert table.cursor_row == 2 + 11
        await pilot.pause()
        assert "r13 " in screen_text(app) and "r0 " not in screen_text(app)
        await pilot.press("end")
        assert table.highlighted_key == "r99"
        await pilot.pause()
        assert "r99 " in screen_text(app)
        await pilot.press("home", "up", "enter")
        assert app.selected == ["r0"]


async def test_a_click_moves_the_cursor_and_a_click_on_the_cursor_row_selects() -> None:
    app = TableApp(20)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(NumberTable)
        await pilot.click(NumberTable, offset=(1, 4))  # line 0 is the header
        assert table.highlighted_key == "r3"
        assert app.selected == []
        await pilot.click(NumberTable, offset=(1, 4))
        assert app.selected == ["r3"]
        await pilot.click(NumberTable, offset=(1, 0))
        assert app.selected == ["r3"], "the header selects nothing"


async def test_the_last_column_is_cut_to_fit_and_the_others_widen_for_a_longer_cell() -> None:
    app = TableApp(3)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(NumberTable)
        table.words["r1"] = "x" * 100
        table.refresh_row("r1")
        await pilot.pause()
        line = next(text for text in screen_text(app).splitlines() if text.startswith("r1 "))
        assert line.rstrip().endswith("…") and len(line.rstrip()) <= SIZE[0]
        table.set_row_keys(["r2", "a-much-longer-name", "r1"])
        await pilot.pause()
        assert table.row_keys == ["r2", "a-much-longer-name", "r1"]
        assert table.highlighted_key == "r2"
        header = screen_text(app).splitlines()[0]
        assert header.index("WORD") == len("a-much-longer-name ")
