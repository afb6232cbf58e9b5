"""Decisions: budget splits, objectives and risk measures, paired statistics, comparison and optimisation.

Everything here runs the funnel (:mod:`sim.model`) through the Monte Carlo layer with
common random numbers: replication ``i`` of every alternative has the same seed. The
public names are in ``sim`` (``sim.compare``, ``sim.optimize``, ...); each module here
is imported only when needed, so the command line starts without SciPy's statistics.
"""
