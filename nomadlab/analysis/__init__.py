"""Analysis: frames in, frames out (usage history, ...)."""

from __future__ import annotations

from .usage import USAGE, NoUsageHistoryError, sample_once, sample_usage, usage_history

__all__ = ["USAGE", "NoUsageHistoryError", "sample_once", "sample_usage", "usage_history"]
