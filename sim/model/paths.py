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

from sim.model.leads import OUTBOUND, Columns, Uniforms
from sim.model.months import PIECE
from sim.model.response import wait_decay
from sim.scenario.schema import Opportunities, Scenario

__all__ = ["LeadStages", "StagePaths", "advance_probabilities", "age_decay", "age_stretch", "lead_stages",
           "open_win_probability", "stage_durations", "stage_paths"]


@dataclass
class LeadStages:
    """The stage settings of some leads, when they differ by channel or segment.

    Attributes:
        table: per profile, per stage, its ``(duration_days, advance)``; profile 0 is the
            stages' own settings.
        code: each lead's profile; None when every lead has the stages' own settings.
    """

    table: list[list[tuple]]
    code: np.ndarray | None = None

    def rows(self, index) -> LeadStages:
        """The settings of some of the leads."""
        return LeadStages(self.table, None if self.code is None else self.code[index])


def _profiles(scenario: Scenario) -> tuple[list[list[tuple]], list[list[int]]]:
    """Every distinct profile of stage settings, and per channel code and segment code its profile.

    Precedence: a segment's setting (its ``win`` for the last stage's advance) over the
    channel's (``stages[i].by_channel``) over the stage's own.
    """
    stages = scenario.opportunities.stages
    table = [[(st.duration_days, st.advance) for st in stages]]
    codes = []
    sources = [*((name, list(ch.segments.values()) or [None]) for name, ch in scenario.channels.items()),
               (OUTBOUND, [None])]
    for name, segments in sources:
        codes.append([])
        for seg in segments:
            profile = []
            for i, st in enumerate(stages):
                duration, advance = st.duration_days, st.advance
                for over in (st.by_channel.get(name), seg.stages.get(st.name) if seg else None):
                    if over is not None:
                        duration = over.duration_days if over.duration_days is not None else duration
                        advance = over.advance if over.advance is not None else advance
                if seg is not None and seg.win is not None and i == len(stages) - 1:
                    advance = seg.win
                profile.append((duration, advance))
            if profile not in table:
                table.append(profile)
            codes[-1].append(table.index(profile))
    return table, codes


def lead_stages(scenario: Scenario, channel: np.ndarray, segment: np.ndarray) -> LeadStages:
    """The :class:`LeadStages` of leads of these channel and segment codes."""
    table, codes = _profiles(scenario)
    if len(table) == 1:
        return LeadStages(table)
    width = max(len(c) for c in codes)
    lookup = np.array([c + [0] * (width - len(c)) for c in codes], dtype=np.int16)
    return LeadStages(table, lookup[np.asarray(channel, dtype=np.intp), np.asarray(segment, dtype=np.intp)])


def _by_profile(stages: LeadStages | None, n: int, n_stages: int, column):
    """``(leads, stages)`` of ``column(stage, setting, rows)``, profile by profile (at once without profiles)."""
    if stages is None or stages.code is None:
        table = stages.table[0] if stages is not None else None
        return np.column_stack([column(s, None if table is None else table[s], slice(None))
                                for s in range(n_stages)])
    out = np.empty((n, n_stages))
    for p in np.unique(stages.code):
        rows = np.flatnonzero(stages.code == p)
        for s in range(n_stages):
            out[rows, s] = column(s, stages.table[p][s], rows)
    return out


def stage_durations(opportunities: Opportunities, u: Uniforms, cols: Columns,
                    stages: LeadStages | None = None) -> np.ndarray:
    """Days each lead would spend in each stage (before any stretch with age): ``(leads, stages)``."""
    def column(s, setting, rows):
        dist = opportunities.stages[s].duration_days if setting is None else setting[0]
        return dist.ppf(u.column(cols.stage_duration[s])[rows])

    return _by_profile(stages, len(u), len(opportunities.stages), column)


def advance_probabilities(opportunities: Opportunities, intent: np.ndarray,
                          stages: LeadStages | None = None) -> np.ndarray:
    """Each lead's chance to pass each stage, by its intent: ``(leads, stages)``."""
    intent = np.asarray(intent)

    def column(s, setting, rows):
        curve = opportunities.stages[s].advance if setting is None else setting[1]
        return curve.at(intent[rows])

    return _by_profile(stages, len(intent), len(opportunities.stages), column)


def age_decay(opportunities: Opportunities, age_days) -> np.ndarray:
    """The age effect's factor on the win chance: ``(1 + age/half_life_days) ** -shape`` (1 without one)."""
    effect = opportunities.age_effect
    age = np.asarray(age_days, dtype=float)
    if effect is None or effect.half_life_days is None:
        return np.ones(age.shape)
    return wait_decay(age, effect.half_life_days, effect.shape)


def age_stretch(opportunities: Opportunities, age_days) -> np.ndarray:
    """The age effect's factor on every stage's duration: ``1 + duration_per_age_day * age`` (1 without one)."""
    effect = opportunities.age_effect
    age = np.asarray(age_days, dtype=float)
    if effect is None:
        return np.ones(age.shape)
    return 1.0 + effect.duration_per_age_day * np.maximum(age, 0.0)


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


def stage_paths(opportunities: Opportunities, intent: np.ndarray, u: Uniforms, cols: Columns,
                stages: LeadStages | None = None) -> StagePaths:
    """The :class:`StagePaths` of leads with these intents and uniforms (worked out a piece of leads at a time)."""
    n = len(intent)
    n_stages = len(opportunities.stages)
    paths = StagePaths(np.empty(n), np.empty(n), np.empty(n), np.empty(n, dtype=np.int8), np.empty(n))
    for lo in range(0, n, PIECE):
        rows = slice(lo, min(lo + PIECE, n))
        piece = u.rows(rows)
        piece_stages = stages.rows(rows) if stages is not None else None
        cum = np.cumsum(stage_durations(opportunities, piece, cols, piece_stages), axis=1)
        advance_p = advance_probabilities(opportunities, intent[rows], piece_stages)
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
                         first_decay, handed_over, stages: LeadStages | None = None, age_days=None) -> np.ndarray:
    """The chance that each deal open at the horizon is still won.

    The product of the advance probabilities of the stages still ahead of it (the
    stage it is in counts as ahead), with the slot-wait decay (and the age effect's
    decay, at ``age_days``, its age at the start) while it is in its first stage, and
    the handover penalty if it changed hands. With an age effect the stages' durations
    are stretched by its age.
    """
    n_stages = len(opportunities.stages)
    cum = np.cumsum(stage_durations(opportunities, u, cols, stages), axis=1)
    if age_days is not None:
        cum = cum * age_stretch(opportunities, age_days)[:, None]
        first_decay = first_decay * age_decay(opportunities, age_days)
    current = np.minimum((cum <= np.asarray(elapsed_days)[:, None]).sum(axis=1), n_stages - 1)
    ahead = np.arange(n_stages)[None, :] >= current[:, None]
    remaining = np.where(ahead, advance_probabilities(opportunities, intent, stages), 1.0).prod(axis=1)
    remaining = np.where(current == 0, remaining * first_decay, remaining)
    return np.where(handed_over, remaining * (1 - opportunities.handover_penalty), remaining)
