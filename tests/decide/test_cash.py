"""Cash over months: each replication's cumulative contribution, its lowest point, and whether it held a runway."""

import ast
import math

import numpy as np
import pandas as pd
import pytest
from paths import SIM

from sim.decide.cash import CashError, cash_held, cash_paths, lowest_cash, series_by_month
from sim.errors import FunnelError

REPLICATIONS = [7, 2, 11, 4]  # not 0..n-1 and not in order, as a subset of a run's replications may be
MONTHS = 9


def _frame(seed=0, replications=REPLICATIONS, months=MONTHS):
    rng = np.random.default_rng(seed)
    rows = [(r, m, float(rng.normal(-2_000 + 800 * m, 3_000)), int(rng.poisson(4)))
            for r in replications for m in range(months)]
    frame = pd.DataFrame(rows, columns=["replication", "month", "contribution", "wins"])
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # rows in no order


def _by_hand(frame):
    """replication -> its contribution month by month (month order), from a plain loop over the rows."""
    series = {}
    for r in sorted(set(frame["replication"])):
        rows = sorted((m, c) for rep, m, c in zip(frame["replication"], frame["month"], frame["contribution"],
                                                  strict=True) if rep == r)
        series[r] = [c for _, c in rows]
    return series


def test_cash_paths_is_each_replications_running_sum_in_month_order():
    frame = _frame()
    paths = cash_paths(frame)
    assert list(paths.index) == list(range(MONTHS))
    assert list(paths.columns) == sorted(REPLICATIONS)
    for r, monthly in _by_hand(frame).items():
        running, total = [], 0.0
        for c in monthly:
            total += c
            running.append(total)
        np.testing.assert_allclose(paths[r].to_numpy(), running, rtol=1e-12)


def test_lowest_cash_and_cash_held_match_a_loop_over_the_replications():
    frame = _frame(seed=3)
    lows = []
    for monthly in _by_hand(frame).values():
        total, low = 0.0, math.inf
        for c in monthly:
            total += c
            low = min(low, total)
        lows.append(low)
    np.testing.assert_allclose(lowest_cash(frame), lows, rtol=1e-12)
    for runway in [0.0, 1_000.0, 5_000.0, 10_000.0, 50_000.0, -min(lows), math.inf]:
        expected = []
        for monthly in _by_hand(frame).values():
            total, ok = 0.0, True
            for c in monthly:
                total += c
                ok = ok and total >= -runway
            expected.append(ok)
        held = cash_held(frame, runway)
        assert held.dtype == bool and held.shape == (len(REPLICATIONS),)
        assert held.tolist() == expected, runway
    assert cash_held(frame, -min(lows)).any()  # exactly at the limit holds: "at or above"


def test_a_known_frame():
    frame = pd.DataFrame({"replication": [0, 0, 0, 1, 1, 1], "month": [0, 1, 2, 0, 1, 2],
                          "contribution": [-100.0, -50.0, 200.0, 10.0, -30.0, 5.0]})
    assert cash_paths(frame).to_numpy().tolist() == [[-100.0, 10.0], [-150.0, -20.0], [50.0, -15.0]]
    assert lowest_cash(frame).tolist() == [-150.0, -20.0]
    assert cash_held(frame, 150).tolist() == [True, True]
    assert cash_held(frame, 149.99).tolist() == [False, True]
    assert cash_held(frame, 0).tolist() == [False, False]


def test_a_nan_contribution_does_not_count_as_holding():
    frame = pd.DataFrame({"replication": [0, 0, 1, 1], "month": [0, 1, 0, 1],
                          "contribution": [1.0, float("nan"), 1.0, 1.0]})
    assert cash_held(frame, math.inf).tolist() == [False, True]


@pytest.mark.parametrize("missing", ["replication", "month", "contribution"])
def test_a_missing_column_is_named(missing):
    frame = _frame().drop(columns=missing)
    for call in (cash_paths, lowest_cash, lambda f: cash_held(f, 100.0)):
        with pytest.raises(CashError) as error:
            call(frame)
        assert isinstance(error.value, FunnelError)
        assert error.value.parameter == "monthly"
        assert f"missing {missing}" in error.value.message


def test_an_empty_frame_and_evaluator_s_empty_frame_are_refused():
    with pytest.raises(CashError, match="missing replication, month, contribution"):
        cash_paths(pd.DataFrame())  # what Evaluator.monthly gives before anything ran
    with pytest.raises(CashError, match="empty"):
        cash_paths(_frame().iloc[:0])
    with pytest.raises(CashError, match="DataFrame"):
        cash_paths({"contribution": [1.0]})


def test_a_frame_that_is_not_one_row_per_replication_and_month_is_refused():
    frame = _frame()
    with pytest.raises(CashError, match="one row per replication and month"):
        cash_paths(pd.concat([frame, frame.iloc[:1]]))
    lacking = frame[~((frame["replication"] == 2) & (frame["month"] == 5))]
    with pytest.raises(CashError, match="replication 2 lacks month 5"):
        cash_paths(lacking)


@pytest.mark.parametrize("runway", [-1.0, float("nan"), "500", None, True])
def test_a_runway_must_be_a_number_of_at_least_zero(runway):
    with pytest.raises(CashError) as error:
        cash_held(_frame(), runway)
    assert error.value.parameter == "runway"


def test_series_by_month_takes_any_column_plain_or_cumulated():
    frame = _frame(seed=5)
    plain = series_by_month(frame, "wins")
    assert plain.loc[3, 7] == frame.query("replication == 7 and month == 3")["wins"].item()
    np.testing.assert_allclose(series_by_month(frame, "wins", cumulative=True).to_numpy(),
                               np.cumsum(plain.to_numpy(), axis=0))
    assert series_by_month(frame, "contribution", cumulative=True).equals(cash_paths(frame))


def test_the_module_is_plain_numpy_and_pandas():
    tree = ast.parse((SIM / "decide" / "cash.py").read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"math", "numpy", "pandas", "__future__", "sim.errors"}, imported
