"""Fakes and helpers for testing code built on bifrost (STYLE.md: tests inject fakes, not mocks).

Nothing in ``bifrost`` imports this package; it may import any of them.
"""

from __future__ import annotations

from bifrost.testing._alpaca import AlpacaStandIn, StandInRequest
from bifrost.testing._service import RunningService, free_port, running_service
from bifrost.testing._sources import FrameBarSource
from bifrost.testing._voila import CHROMIUM, CHROMIUM_ARGS, RunningDashboard, running_dashboard

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "AlpacaStandIn",
    "FrameBarSource",
    "RunningDashboard",
    "RunningService",
    "StandInRequest",
    "free_port",
    "running_dashboard",
    "running_service",
]
