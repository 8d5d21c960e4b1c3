"""Charts drawn on the server as SVG shapes: no script, no CDN, nothing a strict CSP blocks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


def columns(series: list[tuple[str, int]], width: int = 640, height: int = 180) -> list[Bar]:
    """Vertical bars for a time series (one a day), scaled to the largest value."""
    if not series:
        return []
    top = max(v for _, v in series) or 1
    step = width / len(series)
    bars = []
    for i, (label, value) in enumerate(series):
        h = round(value / top * (height - 20), 1)
        bars.append(Bar(label, value, round(i * step + 2, 1), round(height - h, 1), round(step - 4, 1), h))
    return bars


def rows(items: list[tuple[str, int]], width: int = 150) -> list[Bar]:
    """Horizontal bars for a top-N list, scaled to the largest value."""
    if not items:
        return []
    top = max(v for _, v in items) or 1
    return [Bar(label, value, 0, i * 28, round(max(value / top * width, 2), 1), 20)
            for i, (label, value) in enumerate(items)]
