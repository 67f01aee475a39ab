"""A table that repaints one row when one row changes, however many rows it holds.

Textual's DataTable re-renders every visible row whenever a cell changes (about 70 ms a cell on
a 2-core machine, whatever the row count), and populating it measures every cell. This table is a
line-API widget: it renders only the lines on screen, keeps each rendered row until that row (or
a column's width, the theme, the width of the screen) changes, and on a cell update refreshes the
one line that row occupies, if it is on screen at all.

Rows are one line of styled cells under a fixed header. The table's `RowSource` says what a row's
cells are (`row_cells`, asked only for the rows being painted) and how wide (`row_widths`, asked
for every row). Columns are as wide as their widest cell since the rows were last set (they grow, never
shrink, so one row's update never shifts the others back and forth); the last column takes what
the others leave and is cut with an ellipsis. Keys: arrows, page up/down, home/end move the
cursor; enter (or a click on the highlighted row) selects it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

HEADER_LINES = 1


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str


class RowSource(Protocol):
    """What the rows of a RowTable read, by row key."""

    def row_cells(self, key: str) -> Sequence[Text]:
        """The cells of row `key`, one per column: asked only for rows being painted."""

    def row_widths(self, key: str) -> Sequence[int]:
        """The cell widths of row `key` (asked for every row, so cheaper than building the cells)."""


class RowTable(ScrollView, can_focus=True):
    """Rows of styled one-line cells by key, under a header; a row cursor; selection by enter."""

    COMPONENT_CLASSES = {"row-table--header", "row-table--cursor"}

    DEFAULT_CSS = """
    RowTable {
        background: $surface;
        color: $foreground;
        & > .row-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .row-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            background-tint: $foreground 5%;
        }
        &:focus > .row-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "cursor_first", "First row", show=False),
        Binding("end", "cursor_last", "Last row", show=False),
        Binding("enter", "select_cursor", "Select", show=False),
    ]

    cursor_row: reactive[int] = reactive(0, init=False)
    """The index of the highlighted row (0 when there are none)."""

    class RowSelected(Message):
        """Enter on a row, or a click on the highlighted one."""

        def __init__(self, table: RowTable, row_key: str) -> None:
            super().__init__()
            self.table = table
            self.row_key = row_key

        @property
        def control(self) -> RowTable:
            return self.table

    def __init__(self, columns: Sequence[Column], source: RowSource, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = tuple(columns)
        self.source = source
        self._order: list[str] = []
        self._index: dict[str, int] = {}
        self._widths = [cell_len(column.label) for column in self.columns]
        self._column_index = {column.key: number for number, column in enumerate(self.columns)}
        self._lines: dict[tuple[str, bool], Strip] = {}
        """Rendered rows, full width, by (key, is the cursor row); cleared as a whole on any change of
        the columns' widths, the screen's width or the styles."""
        self._lines_width = 0

    # Contents.

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def row_keys(self) -> Sequence[str]:
        return self._order

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def get_row_index(self, key: str) -> int:
        return self._index[key]

    def get_cell(self, row_key: str, column_key: str) -> Text:
        return self.source.row_cells(row_key)[self._column_index[column_key]]

    @property
    def highlighted_key(self) -> str | None:
        return self._order[self.cursor_row] if self._order else None

    def set_row_keys(self, keys: Iterable[str]) -> None:
        """Show exactly these rows, in this order (the cursor stays on its row when it is kept)."""
        keep = self.highlighted_key
        self._order = list(dict.fromkeys(keys))
        self._index = {key: number for number, key in enumerate(self._order)}
        self._widths = [cell_len(column.label) for column in self.columns]
        for key in self._order:
            self._widen(self.source.row_widths(key))
        self._lines.clear()
        self._update_size()
        self.refresh()
        if keep is not None and keep in self._index:
            self.move_cursor(row=self._index[keep])
        else:
            self.move_cursor(row=self.cursor_row)

    def refresh_row(self, key: str) -> None:
        """Row `key` reads differently: repaint its line if it is on screen (every line if it widened
        a column)."""
        self._lines.pop((key, False), None)
        self._lines.pop((key, True), None)
        if self._widen(self.source.row_widths(key)):
            self.refresh_all()
        else:
            self._refresh_row(self._index[key])

    def refresh_all(self) -> None:
        """Every row may read differently (a new theme, say): paint the lines on screen again."""
        self._lines.clear()
        self._update_size()
        self.refresh()

    def _widen(self, widths: Sequence[int]) -> bool:
        """Grow the columns (not the last, which is cut to fit) to `widths`; True when one grew."""
        grew = False
        for number in range(len(self.columns) - 1):
            if widths[number] > self._widths[number]:
                self._widths[number] = widths[number]
                grew = True
        return grew

    # The cursor.

    def move_cursor(self, *, row: int) -> None:
        self.cursor_row = max(0, min(row, len(self._order) - 1))

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._refresh_row(old)
        self._refresh_row(new)
        self._scroll_to_cursor()

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(row=self.cursor_row - self._page())

    def action_page_down(self) -> None:
        self.move_cursor(row=self.cursor_row + self._page())

    def action_cursor_first(self) -> None:
        self.move_cursor(row=0)

    def action_cursor_last(self) -> None:
        self.move_cursor(row=len(self._order) - 1)

    def action_select_cursor(self) -> None:
        key = self.highlighted_key
        if key is not None:
            self.post_message(self.RowSelected(self, key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < HEADER_LINES:
            return
        row = int(self.scroll_offset.y) + offset.y - HEADER_LINES
        if row >= len(self._order):
            return
        if row == self.cursor_row:
            self.action_select_cursor()
        else:
            self.move_cursor(row=row)

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - HEADER_LINES)

    def _scroll_to_cursor(self) -> None:
        top = int(self.scroll_offset.y)
        visible = self._page()
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False, immediate=True)

    # Rendering.

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if width != self._lines_width:
            self._lines.clear()
            self._lines_width = width
        scroll_x = int(self.scroll_offset.x)
        if y < HEADER_LINES:
            strip = self._render_header(width)
        else:
            index = int(self.scroll_offset.y) + y - HEADER_LINES
            if index >= len(self._order):
                return Strip.blank(width, self.rich_style)
            key = self._order[index]
            cursor = index == self.cursor_row
            strip = self._lines.get((key, cursor)) or self._render_row(key, cursor, width)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines.clear()
        self.refresh()

    def on_focus(self) -> None:
        self._restyle_cursor()

    def on_blur(self) -> None:
        self._restyle_cursor()

    def _restyle_cursor(self) -> None:
        """The cursor's colours depend on focus: only its row is rendered again."""
        key = self.highlighted_key
        if key is not None:
            self._lines.pop((key, True), None)
            self._refresh_row(self.cursor_row)

    def _render_header(self, width: int) -> Strip:
        style = self.rich_style + self.get_component_rich_style("row-table--header")
        cells = [Text(column.label) for column in self.columns]
        return self._strip(cells, style, width)

    def _render_row(self, key: str, cursor: bool, width: int) -> Strip:
        # The cursor's colours go over the cells' own, so a green word stays readable on it.
        over = self.get_component_rich_style("row-table--cursor") if cursor else None
        strip = self._strip(self.source.row_cells(key), self.rich_style, width, over)
        self._lines[(key, cursor)] = strip
        return strip

    def _strip(self, cells: Sequence[Text], style: Style, width: int, over: Style | None = None) -> Strip:
        line = Text(no_wrap=True, end="")
        used = 0
        last = len(cells) - 1
        for number, cell in enumerate(cells):
            if number == last:
                room = max(1, width - used)
                if cell.cell_len > room:
                    cell = cell.copy()
                    cell.truncate(room, overflow="ellipsis")
                line.append_text(cell)
                break
            line.append_text(cell)
            line.append(" " * (self._widths[number] - cell.cell_len))
            used += self._widths[number]
        console = self.app.console
        segments = list(Segment.apply_style(line.render(console), style, over))
        return Strip(segments).extend_cell_length(width, style if over is None else style + over)

    def _refresh_row(self, index: int) -> None:
        if 0 <= index < len(self._order):
            self.refresh_line(index + HEADER_LINES)

    def _update_size(self) -> None:
        # The last column is cut to fit, so only the others can make the table wider than the screen.
        self.virtual_size = Size(sum(self._widths[:-1]) + 1, len(self._order) + HEADER_LINES)
