"""The best-P study's answer: moved to :mod:`hetconv_edu.study.answer`. This module only re-exports
its names, so that code written for ``hetconv_edu.study_answer`` keeps working."""

from hetconv_edu.study.answer import *  # noqa: F403
from hetconv_edu.study.answer import __all__  # noqa: F401
