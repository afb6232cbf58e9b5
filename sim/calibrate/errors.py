"""The calibration layer's error: one problem a line, each naming ``file:row:column`` (or the mapping's key)."""

from __future__ import annotations

from sim.errors import FunnelError

__all__ = ["CalibrateError"]


class CalibrateError(FunnelError):
    """CRM data or a mapping file that cannot be calibrated from; ``problems`` name the file, row and column."""
