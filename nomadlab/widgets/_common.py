"""Small pieces shared by the widgets: table HTML, duration parsing, the client."""

from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd

from nomadlab.client import NomadClient

__all__ = ["client_of", "display_widget", "frame_html", "message_html", "seconds"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def client_of(client: NomadClient | None) -> NomadClient:
    """The given client, or one connected from the ``NOMAD_*`` variables (no request is sent)."""
    return client if client is not None else NomadClient()


def seconds(value: str | float | int) -> float:
    """A wait given as seconds or as ``"30s"``, ``"500ms"``, ``"5m"``, ``"1h"``.

    >>> seconds("30s"), seconds("500ms"), seconds(2)
    (30.0, 0.5, 2.0)
    """
    if isinstance(value, (int, float)):
        return float(value)
    match = _DURATION.match(value)
    if match is None:
        raise ValueError(f"not a duration: {value!r}; write it as '30s', '500ms', '5m' or '1h'")
    return float(match.group(1)) * _UNIT[match.group(2)]


def frame_html(frame: pd.DataFrame, *, max_rows: int = 200) -> str:
    """A frame as an HTML table (at most ``max_rows`` rows, the rest counted)."""
    if frame.empty:
        return "<i>no rows</i>"
    shown = frame.head(max_rows)
    table = str(shown.to_html(index=False, escape=True, na_rep="", border=0))
    more = len(frame) - len(shown)
    return table + (f"<i>… and {more} more row(s)</i>" if more > 0 else "")


def message_html(text: str, *, kind: str = "info") -> str:
    """A one-line message; ``kind="error"`` shows it in red."""
    color = {"error": "#b00020", "warning": "#8a6d00"}.get(kind, "inherit")
    return f'<span style="color:{color}">{html.escape(text)}</span>'


def display_widget(widget: Any) -> None:
    """Show ``widget`` in the notebook."""
    from IPython.display import display

    display(widget)  # type: ignore[no-untyped-call]
