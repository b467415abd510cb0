"""Analysis: frames in, frames out (capacity, usage, timelines, right-sizing, task states)."""

from __future__ import annotations

from .states import task_spans

__all__ = ["task_spans"]
