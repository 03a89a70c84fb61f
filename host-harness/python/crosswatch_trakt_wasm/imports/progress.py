"""The ``progress`` import. Mirrors host-harness/host/src/imports/progress.rs."""

from __future__ import annotations

from typing import Callable, Optional

class ProgressSink:
    """Progress reports; CrossWatch draws its own bars from ``snapshot:progress`` events, so
    this only counts them and hands them to an optional callback."""

    #: Process-wide callback ``(feature, phase, done, total)``, e.g. a UI bridge.
    callback: Optional[Callable[[str, str, int, Optional[int]], None]] = None

    def __init__(self) -> None:
        self.reports = 0

    def report(self, feature: str, phase: str, done: int, total: Optional[int]) -> None:
        self.reports += 1
        cb = ProgressSink.callback
        if cb is not None:
            try:
                cb(feature, phase, done, total)
            except Exception:
                pass
