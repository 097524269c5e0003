"""The Markdown tables the benchmark scripts print."""

from __future__ import annotations


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """Prints a Markdown table whose columns are as wide as their widest cell."""
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]
    print("| " + " | ".join(cell.ljust(w) for cell, w in zip(header, widths)) + " |")
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for row in rows:
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |")
