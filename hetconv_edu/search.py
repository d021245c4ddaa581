"""Choosing P per layer under a budget: moved to :mod:`hetconv_edu.study.search`. This module only
re-exports its names, so that code written for ``hetconv_edu.search`` keeps working."""

from hetconv_edu.study.search import *  # noqa: F403
from hetconv_edu.study.search import __all__  # noqa: F401
