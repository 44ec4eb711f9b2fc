"""The table every listing screen shares: a DataTable a filter narrows, updated in place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.reactive import reactive
from textual.widgets import DataTable, Input

Row = tuple[str, tuple[Any, ...]]  # a row's key and its cells


def sync_rows(table: DataTable[Any], rows: Sequence[Row]) -> None:
    """Show ``rows``, touching only what differs.

    A table cleared and refilled loses its cursor and scroll position, and
    highlights row 1 again; screens whose rows change under the user (a
    recording still being written, an issue just marked) must not do that.
    When the rows shown are a prefix of the new ones, cells are updated and
    rows appended; otherwise the table is rebuilt and the cursor follows its
    row's key.
    """
    shown = [str(row.key.value) for row in table.ordered_rows]
    wanted = [key for key, _ in rows]
    if shown == wanted[: len(shown)]:
        for index, (_, cells) in enumerate(rows[: len(shown)]):
            if tuple(table.get_row_at(index)) != tuple(cells):
                for column, value in enumerate(cells):
                    table.update_cell_at(Coordinate(index, column), value)
        for key, cells in rows[len(shown) :]:
            table.add_row(*cells, key=key)
    else:
        cursor_key = shown[table.cursor_row] if 0 <= table.cursor_row < len(shown) else None
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        if cursor_key in wanted:
            table.move_cursor(row=wanted.index(cursor_key), animate=False)
    # Textual's DataTable widens its columns for new rows when idle, but keeps the
    # lines it rendered before that with the old widths (textual 8.2): once the
    # rows are measured, those lines are drawn again.
    table.call_after_refresh(table.notify_style_update)


class FilterableTable(Vertical):
    """A DataTable with a filter field, hidden until asked for, that narrows it as the user types.

    All rows are kept aside, so clearing the filter brings them back, and rows
    added while a filter is on appear only if they match. The inner table has
    the id given, so screens handle its messages (``RowSelected``,
    ``RowHighlighted``) by that id.
    """

    needle: reactive[str] = reactive("", init=False)

    def __init__(
        self, *columns: str, id: str, placeholder: str = "filter", zebra_stripes: bool = True
    ) -> None:
        super().__init__(id=f"{id}-filterable")
        self._columns = columns
        self._table_id = id
        self._placeholder = placeholder
        self._zebra_stripes = zebra_stripes
        self.rows: list[Row] = []

    def compose(self) -> ComposeResult:
        yield Input(placeholder=self._placeholder)
        yield DataTable(id=self._table_id, cursor_type="row", zebra_stripes=self._zebra_stripes)

    def on_mount(self) -> None:
        self.table.add_columns(*self._columns)

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one(DataTable)

    def set_rows(self, rows: Sequence[Row]) -> None:
        self.rows = list(rows)
        self._show()

    def append_rows(self, rows: Sequence[Row]) -> None:
        self.rows.extend(rows)
        self._show()

    def open_filter(self) -> None:
        field = self.query_one(Input)
        field.add_class("visible")
        field.focus()

    def watch_needle(self) -> None:
        self._show()

    def _show(self) -> None:
        needle = self.needle.lower()
        sync_rows(
            self.table,
            [row for row in self.rows if not needle or needle in " ".join(map(str, row[1])).lower()],
        )

    @on(Input.Changed)
    def _narrow(self, event: Input.Changed) -> None:
        event.stop()
        self.needle = event.value

    @on(Input.Submitted)
    def _back_to_the_rows(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()
