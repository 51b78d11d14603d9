"""Evaluation: everything that loads models and loops over clips to measure them. Batch evaluation of the paper's
metrics over clips and ablation variants (:mod:`.batch`), the mini zoo's quality gates and report (:mod:`.gates`,
:mod:`.zoo_report`), the reconstructors' evaluation (:mod:`.reconstructors`), fusion's decisions (:mod:`.fusion`),
the category classifier of N-way classification (:mod:`.classification`), and the benches (:mod:`.bench`,
:mod:`.bench_zoo`, :mod:`.bench_full`). The pure metric functions live in :mod:`neuroclips.metrics`."""
