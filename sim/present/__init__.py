"""Presentation: terminal tables, the progress bar, plots and exports (CSV, Parquet, Excel).

The only layer that imports rich, matplotlib or openpyxl. It knows results only by
their attributes (a Result, an Experiment, a Comparison and the optimiser's
diagnostics), so ``Experiment.to_excel`` and ``Comparison.to_excel`` can hand themselves
to :mod:`sim.present.workbook` when they are called.
"""
