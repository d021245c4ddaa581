"""The best-P study: which P for which layer, under a budget of MACs or measured time.

One module per idea, lowest first:

* :mod:`~hetconv_edu.study.search` — the exact knapsack over per-layer choices, Pareto fronts,
  an evolutionary check, rank correlation (pure Python and numpy);
* :mod:`~hetconv_edu.study.results` — the results file: its schema, its validation, the
  additive cost and accuracy model (no torch: the figures read it);
* :mod:`~hetconv_edu.study.answer` — the answer with its uncertainty over seeds (no torch);
* :mod:`~hetconv_edu.study.folder` — the study's folder, where every finished piece is kept;
* :mod:`~hetconv_edu.study.supernet` — the weight-sharing network and its trainer;
* :mod:`~hetconv_edu.study.costs` — the analytic MACs and parameters of a network and of each
  switchable layer at each P (what a results file's counts are checked against);
* :mod:`~hetconv_edu.study.measure` — measured layer and network times, sensitivities, the data
  split, the training recipe and the provenance;
* :mod:`~hetconv_edu.study.reference` — the short reference computation that tells whether a
  results file is still what this code computes;
* :mod:`~hetconv_edu.study.driver` — the full study, stage by stage, resumable
  (``benchmarks/optimal_p.py``);
* :mod:`~hetconv_edu.study.live` — the small live study of the notebook's "Run it here".

Importing the package imports none of them (and so no torch); import the module you need.
"""
