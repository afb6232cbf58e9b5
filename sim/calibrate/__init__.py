"""Calibrating a scenario from CRM data: mapping files, reading, estimates with intervals, the written scenario."""

from sim.calibrate.errors import CalibrateError

__all__ = ["CalibrateError"]
