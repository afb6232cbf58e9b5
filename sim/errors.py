"""Errors that name the setting at fault: what the library raises for input that cannot work.

Each carries ``setting`` (the option or field, as the command line spells it) and
``message`` (what was expected), so the command line can print one line per problem.
"""

from __future__ import annotations

__all__ = ["SettingError"]


class SettingError(ValueError):
    """A setting that cannot work; ``str()`` is ``setting: message``.

    ``problems`` lists every ``(setting, message)`` found at once (the first is ``setting``).
    """

    def __init__(self, setting: str, message: str, problems: list[tuple[str, str]] | None = None):
        self.setting = setting
        self.message = message
        self.problems = problems or [(setting, message)]
        super().__init__("; ".join(f"{s}: {m}" for s, m in self.problems))
