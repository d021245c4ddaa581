"""The best-P results' reference computation: moved to :mod:`hetconv_edu.study.reference`. This
module only re-exports its names, so that code written for ``hetconv_edu.study_reference`` keeps
working."""

from hetconv_edu.study.reference import *  # noqa: F403
from hetconv_edu.study.reference import __all__  # noqa: F401
