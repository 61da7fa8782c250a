"""The table every timing bench prints: one row per case, its median, min, max and runs."""

from __future__ import annotations

import statistics

from rich.console import Console
from rich.table import Table


def print_medians(title: str, first_column: str, samples: dict[str, list[float]]) -> None:
    table = Table(title=title)
    for column in (first_column, "median s", "min s", "max s", "runs"):
        table.add_column(column)
    for case, values in samples.items():
        table.add_row(
            case,
            f"{statistics.median(values):.2f}",
            f"{min(values):.2f}",
            f"{max(values):.2f}",
            str(len(values)),
        )
    Console().print(table)
