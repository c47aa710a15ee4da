"""Errors and warnings raised by hotspots.

Every error a user can cause is a :class:`HotspotsError` (a ``ValueError``). The app and the
command line turn it into one readable message; anything else is a bug and is reported as such.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HotspotsError", "HotspotsWarning", "InputError", "ParameterError", "TooFewPeriodsError"]


class HotspotsError(ValueError):
    """Base class of every error hotspots raises on purpose."""


class InputError(HotspotsError):
    """A problem with an input file: says what, where (file, row, column) and how to fix it.

    Parameters
    ----------
    message : str
        What is wrong, as one sentence.
    file : str, optional
        The input file's name.
    row : int, optional
        The 1-based line number in the file (the header is line 1).
    column : str, optional
        The column's name as written in the file's header.
    hint : str, optional
        How to fix it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        self.hint = hint
        super().__init__(str(self))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with its parts (an error raised in another process keeps file, row, hint)."""
        parts = {"file": self.file, "row": self.row, "column": self.column, "hint": self.hint}
        return (_input_error, (type(self), self.message, parts))

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.row is not None:
            where.append(f"line {self.row}")
        if self.column:
            where.append(f"column '{self.column}'")
        text = (", ".join(where) + ": " if where else "") + self.message
        if self.hint:
            text += f" Fix: {self.hint}"
        return text


def _input_error(cls: type[InputError], message: str, parts: dict[str, Any]) -> InputError:
    return cls(message, **parts)


class ParameterError(HotspotsError):
    """An invalid analysis parameter (names the parameter, the value and what is allowed)."""


class TooFewPeriodsError(ParameterError):
    """The data span too few time periods for an analysis over time (not a mistake by the user)."""


class HotspotsWarning(UserWarning):
    """Something the user should know about a result (shown in the app and the CLI)."""
