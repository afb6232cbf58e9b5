"""Calibrating a scenario from CRM data, and checking a scenario on held-out months (back-testing).

Calibrating: mapping files, reading, estimates with intervals, the written scenario.
Back-testing: :mod:`sim.calibrate.backtest`.

``sim.calibrate`` is both this package and the function :func:`sim.calibrate.api.calibrate`:
the package is callable, so that importing one of its modules first does not hide the function.
"""

import sys
import types

from sim.calibrate.errors import CalibrateError

__all__ = ["CalibrateError"]


class _CallablePackage(types.ModuleType):
    def __call__(self, tables_or_paths, mapping, train_until=None):
        """Calibrate a scenario from CRM data; see :func:`sim.calibrate.api.calibrate`."""
        from sim.calibrate.api import calibrate

        return calibrate(tables_or_paths, mapping, train_until=train_until)


sys.modules[__name__].__class__ = _CallablePackage
