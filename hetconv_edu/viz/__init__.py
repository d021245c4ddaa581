"""Figures of the package: pure functions from data to plotly figures and trace data, no widgets.

:mod:`~hetconv_edu.viz.style` holds the shared look (kernel-kind and family palettes, fonts,
margins); the other modules build the figures of one notebook each.
"""
