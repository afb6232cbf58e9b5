"""What the presentation layer raises for a request it cannot draw or write."""

from sim.errors import FunnelError

__all__ = ["PresentError"]


class PresentError(FunnelError):
    """A plot or an export asked of a result it does not fit.

    Names the parameter: ``comparison``, ``against`` or ``extra``.
    """
