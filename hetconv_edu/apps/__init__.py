"""Interactive apps for the notebooks: ipywidgets wiring only.

Each app reads its controls, calls the pure functions of :mod:`hetconv_edu.viz` and assigns the
results to its figures. :mod:`~hetconv_edu.apps.controls` holds the controls every app shares
(layer M/N/K/P, answer checkers for exercises).
"""
