"""Scenario builders and the wrong-scenario corpus, shared by the tests."""

import contextlib
import copy
import faulthandler
import math
import signal
from pathlib import Path

from paths import BAD_DIR

from sim import parse_scenario

__all__ = ["BAD_DIR", "BAD_FILES", "BASE", "Hang", "deadline", "edited", "expected_paths", "make"]

# A small complete scenario used as the base of the model tests; tests copy and change it.
BASE = {
    "name": "test",
    "horizon_months": 6,
    "channels": {
        "search": {
            "spend": 10000,
            "response": {"curve": "hill", "max_leads": 400, "half_spend": 10000},
            "intent": {"a": 2, "b": 3},
        }
    },
    "scoring": {"score_noise": 0.0, "mql_threshold": 0.0},
    "qualification": {"work_hours": 0.5, "p_qualify": 0.5},
    "opportunities": {"stages": [{"name": "close", "duration_days": 10, "advance": 0.5}],
                      "deal": {"kind": "one_off", "value": 1000}},
    "roles": {"sdr": {"fte": 2, "cost_per_fte_year": 60000},
              "ae": {"fte": 2, "cost_per_fte_year": 120000, "max_open_opportunities": 50}},
}


def edited(**changes) -> dict:
    """BASE with nested changes given as dotted keys (``a__b=1`` sets ``a.b``; None removes the key), unvalidated."""
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        parts = key.split("__")
        cur = data
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        if value is None:
            cur.pop(parts[-1], None)
        else:
            cur[parts[-1]] = copy.deepcopy(value)
    return data


def make(**changes):
    """A validated scenario: BASE with nested changes given as dotted keys (a__b=1 sets a.b)."""
    return parse_scenario(edited(**changes))


BAD_FILES = sorted(Path(BAD_DIR).glob("*.yaml"))


def expected_paths(path: Path) -> list[str]:
    """The field paths a wrong scenario file announces in its leading ``# expect:`` lines."""
    expects = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        body = line[1:].strip()
        if body.startswith("expect:"):
            expects.append(body.removeprefix("expect:").strip())
    return expects


def assert_same_metrics(a: dict, b: dict) -> None:
    """Two replications' measures are equal, NaN to NaN, bit for bit otherwise."""
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], float) and math.isnan(a[k]):
            assert isinstance(b[k], float) and math.isnan(b[k]), k
        else:
            assert a[k] == b[k], k


class Hang(BaseException):
    """Raised by :func:`deadline`; a BaseException, so that no ``except Exception`` (or OSError) swallows it."""


@contextlib.contextmanager
def deadline(seconds: float):
    """Raise :class:`Hang` if the block runs longer than ``seconds``: a hang fails the test, not the suite.

    SIGALRM, so the main thread only (where pytest, and each xdist worker, runs tests); it
    interrupts Python code and a blocking system call (opening a FIFO) alike. Code stuck
    in a native library (pydantic-core validating billions of values) never lets the
    signal's handler run: for that, faulthandler's watchdog thread prints every thread's
    stack and ends the process a minute later, which fails the run instead of hanging it.
    """

    def expired(signum, frame):
        # Without the exception it interrupted: printing that one may be what never ends.
        raise Hang(f"still running after {seconds} s") from None

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(seconds + 60, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def lead_subset(read, keep):
    """The CRM tables ``read`` (a ``CrmTables``) cut to the leads ``keep``, with their deals and stage history."""
    from sim.calibrate.tables import CrmTables

    leads = read.tables["leads"][read.tables["leads"]["lead_id"].isin(keep)]
    deals = read.tables["deals"][read.tables["deals"]["lead_id"].isin(keep)]
    history = read.tables["stage_history"][read.tables["stage_history"]["deal_id"].isin(deals["deal_id"])]
    return CrmTables({**read.tables, "leads": leads, "deals": deals, "stage_history": history}, read.cutoff)


def lead_groups(read, groups: int, seed: int) -> list:
    """The leads of ``read`` split at random into ``groups`` independent groups, each with its deals (CrmTables)."""
    import numpy as np

    ids = read.tables["leads"]["lead_id"].to_numpy()
    group = np.random.default_rng(seed).permutation(len(ids)) % groups
    return [lead_subset(read, set(ids[group == g])) for g in range(groups)]
