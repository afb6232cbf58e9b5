"""Stage paths: each opportunity's way through the stages, fixed by its own uniforms (``docs/model.md``, 4).

Pure numpy, before and after the event loop. An SQL that takes an AE slot passes the
first stage with the first stage's chance (times the decay of its wait for the slot,
known only then) and, once past it, its path is fixed: it passes each later stage
while its uniform is below that stage's advance probability at its intent, and
takes each stage's duration from its own uniform. So the event loop needs, per lead,
only where and when the path ends (:class:`StagePaths`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.leads import Columns, Uniforms
from sim.model.months import PIECE
from sim.scenario.schema import Opportunities

__all__ = ["StagePaths", "advance_probabilities", "open_win_probability", "stage_durations", "stage_paths"]


def stage_durations(opportunities: Opportunities, u: Uniforms, cols: Columns) -> np.ndarray:
    """Days each lead would spend in each stage: ``(leads, stages)``."""
    return np.column_stack([st.duration_days.ppf(u.column(c))
                            for st, c in zip(opportunities.stages, cols.stage_duration, strict=True)])


def advance_probabilities(opportunities: Opportunities, intent: np.ndarray) -> np.ndarray:
    """Each lead's chance to pass each stage, by its intent: ``(leads, stages)``."""
    return np.column_stack([st.advance.at(intent) for st in opportunities.stages])


@dataclass
class StagePaths:
    """Per lead, how its opportunity ends.

    Attributes:
        first_stage_days: when the first stage ends, from the start of the opportunity
            (a lead that fails it is lost then).
        first_p: the chance to pass the first stage (before the slot-wait decay).
        u_first: the lead's uniform for the first stage.
        end_stage: once past the first stage, the stage it is lost in, or the number of
            stages when it is won.
        end_days: when that happens, from the start of the opportunity.
    """

    first_stage_days: np.ndarray
    first_p: np.ndarray
    u_first: np.ndarray
    end_stage: np.ndarray
    end_days: np.ndarray


def stage_paths(opportunities: Opportunities, intent: np.ndarray, u: Uniforms, cols: Columns) -> StagePaths:
    """The :class:`StagePaths` of leads with these intents and uniforms (worked out a piece of leads at a time)."""
    n = len(intent)
    n_stages = len(opportunities.stages)
    paths = StagePaths(np.empty(n), np.empty(n), np.empty(n), np.empty(n, dtype=np.int8), np.empty(n))
    for lo in range(0, n, PIECE):
        rows = slice(lo, min(lo + PIECE, n))
        piece = u.rows(rows)
        cum = np.cumsum(stage_durations(opportunities, piece, cols), axis=1)
        advance_p = advance_probabilities(opportunities, intent[rows])
        passed = piece.matrix(cols.stage_advance) < advance_p
        # Stages passed in a row after the first (whose chance also decays with the slot wait).
        after_first = np.cumprod(passed[:, 1:], axis=1).sum(axis=1) if n_stages > 1 else 0
        end_stage = 1 + after_first
        paths.first_stage_days[rows] = cum[:, 0]
        paths.first_p[rows] = advance_p[:, 0]
        paths.u_first[rows] = piece.column(cols.stage_advance[0])
        paths.end_stage[rows] = end_stage
        paths.end_days[rows] = cum[np.arange(len(cum)), np.minimum(end_stage, n_stages - 1)]
    return paths


def open_win_probability(opportunities: Opportunities, intent, u: Uniforms, cols: Columns, elapsed_days,
                         first_decay, handed_over) -> np.ndarray:
    """The chance that each deal open at the horizon is still won.

    The product of the advance probabilities of the stages still ahead of it (the
    stage it is in counts as ahead), with the slot-wait decay while it is in its first
    stage, and the handover penalty if it changed hands.
    """
    n_stages = len(opportunities.stages)
    cum = np.cumsum(stage_durations(opportunities, u, cols), axis=1)
    current = np.minimum((cum <= np.asarray(elapsed_days)[:, None]).sum(axis=1), n_stages - 1)
    ahead = np.arange(n_stages)[None, :] >= current[:, None]
    remaining = np.where(ahead, advance_probabilities(opportunities, intent), 1.0).prod(axis=1)
    remaining = np.where(current == 0, remaining * first_decay, remaining)
    return np.where(handed_over, remaining * (1 - opportunities.handover_penalty), remaining)
