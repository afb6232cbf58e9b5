"""Per-lead state stays compact: what a replication holds grows by bytes per lead, not by Python objects.

A million leads (the reference scenario 20 times the size, ``funnel bench --scale 20``)
must fit in 300 MB with the interpreter and the imports (about 125 MB). tracemalloc
counts every allocation Python and numpy make, so the peak of one replication is a
deterministic figure for a seed. The bound leaves room above today's 190 bytes per lead
and below the 530 bytes per lead the model took when it kept a Python list per MQL value.
"""

import tracemalloc

from paths import REFERENCE

import sim
from sim.model.measures import measure
from sim.model.simulation import run

BYTES_PER_LEAD = 260


def test_a_replication_holds_a_few_hundred_bytes_per_lead_at_most():
    scenario = sim.load_scenario(REFERENCE)
    run(scenario, seed=0)  # imports and caches first, outside the count
    tracemalloc.start()
    try:
        record = run(scenario, seed=1)
        measure(record)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert record.leads > 40_000  # enough leads that per-lead arrays dominate the fixed costs
    assert peak / record.leads < BYTES_PER_LEAD, f"{peak / record.leads:.0f} bytes per lead"
