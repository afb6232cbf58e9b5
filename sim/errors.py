"""The one base of the library's errors for input that cannot work.

A :class:`FunnelError` lists its ``problems``, each a ``(parameter, message)`` pair that
names the Python parameter (or scenario field) at fault and says what was expected.
Every layer raises its own typed subclass (:class:`sim.scenario.ScenarioError`,
:class:`sim.montecarlo.ExperimentError`, :class:`sim.decide.OptimizeError`, ...), so
callers can catch one layer's problems or all of them.

A message may name another parameter as ``{name}``; :meth:`FunnelError.lines` fills it
in with the parameter's own name, or with whatever a caller calls it (the command
line passes its flags), so the library never speaks the command line's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["FunnelError", "fill"]

_REFERENCE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class FunnelError(Exception):
    """Input that cannot work: one or more problems, each naming its parameter.

    Args:
        parameter: the parameter (or field) at fault.
        message: what was expected, as a sentence fragment (``"expected ..."``);
            ``{other}`` names another parameter.
        problems: every ``(parameter, message)`` found at once, if more than one.

    Attributes:
        problems: every ``(parameter, message)``; the first is ``parameter, message``.
    """

    def __init__(self, parameter: str, message: str = "", problems: list[tuple[str, str]] | None = None):
        self.problems = list(problems) if problems else [(parameter, message)]
        super().__init__("; ".join(self.lines()))

    @property
    def parameter(self) -> str:
        """The (first) parameter at fault."""
        return self.problems[0][0]

    @property
    def message(self) -> str:
        """What was expected of it, with other parameters named as in Python."""
        return fill(self.problems[0][1], self.python_name)

    @staticmethod
    def python_name(name: str) -> str:
        """How a message names another parameter in Python: as itself."""
        return name

    def lines(self, name: Callable[[str], str] | None = None) -> list[str]:
        """One line per problem, ``parameter: message``, each parameter written as ``name(parameter)``."""
        name = name or self.python_name
        return [f"{name(p)}: {fill(m, name)}" for p, m in self.problems]


def fill(message: str, name: Callable[[str], str] = str) -> str:
    """``message`` with each ``{parameter}`` it names written as ``name(parameter)``."""
    return _REFERENCE.sub(lambda m: name(m.group(1)), message)
