"""Reading a workbook back as its readers do: each sheet with pandas (no skiprows), its columns by code.

The Columns sheet maps every header of every sheet to the code name the JSON and the CSV
tables use, so a sheet read with ``pandas.read_excel`` can be compared with the library's
frames or the command's ``--json`` column by column.
"""

from __future__ import annotations

import functools
import math
import os

import numpy as np
import openpyxl
import pandas as pd


def _key(path) -> tuple:
    stat = os.stat(path)
    return str(path), stat.st_mtime_ns, stat.st_size  # a workbook written again is read again


@functools.lru_cache(maxsize=8)
def _read(key: tuple, blank: bool) -> dict[str, pd.DataFrame]:
    return pd.read_excel(key[0], sheet_name=None, **({"keep_default_na": False} if blank else {}))


@functools.lru_cache(maxsize=8)
def _book(key: tuple):
    return openpyxl.load_workbook(key[0])


def sheets(path, blank: bool = False) -> dict[str, pd.DataFrame]:
    """Every sheet, as ``pandas.read_excel`` reads it: the header in row 1, nothing skipped.

    With ``blank``, empty cells are '' rather than NaN. The frames are copies (read once per file).
    """
    return {name: frame.copy() for name, frame in _read(_key(path), blank).items()}


def sheet(path, name: str, blank: bool = False) -> pd.DataFrame:
    return _read(_key(path), blank)[name].copy()


def codes(path, name: str) -> list:
    """The code of each column of sheet ``name``, in order, from the Columns sheet ('' where it has none)."""
    listed = _read(_key(path), True)["Columns"]
    return list(listed.loc[listed["Sheet"] == name, "Code"])


def by_code(path, name: str) -> pd.DataFrame:
    """Sheet ``name`` read with pandas, its columns renamed to their codes (the Columns sheet's)."""
    frame = sheet(path, name)
    names = codes(path, name)
    assert len(names) == len(frame.columns), (name, names, list(frame.columns))
    frame.columns = [code or header for code, header in zip(names, frame.columns, strict=True)]
    return frame


def items(path, name: str) -> dict:
    """A long table (Item, Value, Unit, Code) as code -> value (an empty cell is NaN)."""
    frame = sheet(path, name)
    return {row["Code"]: row["Value"] for row in frame.to_dict(orient="records")}


def inputs(path) -> list[dict]:
    """The Inputs sheet's rows (Item, Value, Unit, Notes), empty cells as ''."""
    return sheet(path, "Inputs", blank=True).to_dict(orient="records")


def inputs_value(path, item: str):
    """The value of the one Inputs row called ``item``."""
    (value,) = [row["Value"] for row in inputs(path) if row["Item"] == item]
    return value


def formats(path, name: str, key: str | None = None) -> dict:
    """Number formats: header -> the format of its first data row, or with ``key`` (a long table's key
    column), (key value, header) -> format for every row."""
    rows = list(_book(_key(path))[name].iter_rows())
    headers = [c.value for c in rows[0]]
    if key is None:
        return {h: c.number_format for h, c in zip(headers, rows[1], strict=True)}
    k = headers.index(key)
    return {(row[k].value, h): c.number_format for row in rows[1:] for h, c in zip(headers, row, strict=True)}


def same(a, b, rtol: float = 1e-12) -> bool:
    """Two cells are the same number (NaN, infinity and missing are all an empty cell), or equal otherwise."""
    def empty(x):
        return x is None or x == "" or (isinstance(x, float) and not math.isfinite(x))

    if empty(a) or empty(b):
        return empty(a) and empty(b)
    if isinstance(a, (bool, np.bool_)) or isinstance(b, (bool, np.bool_)):
        return bool(a) == bool(b)
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
        return math.isclose(float(a), float(b), rel_tol=rtol, abs_tol=1e-9)
    return str(a) == str(b)


def assert_records_equal(got: list[dict], expected: list[dict], keys=None) -> None:
    """Every expected record's values (on ``keys``, default all of its keys) equal the workbook's, in order."""
    assert len(got) == len(expected)
    for k, (g, e) in enumerate(zip(got, expected, strict=True)):
        for key in keys or e:
            assert same(g[key], e[key]), (k, key, g[key], e[key])


def assert_frame_matches(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """The workbook's frame holds every column of ``expected`` with the same values, row for row."""
    assert sorted(got.columns) == sorted(expected.columns)
    assert_records_equal(got[list(expected.columns)].to_dict(orient="records"), expected.to_dict(orient="records"))
