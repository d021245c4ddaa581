"""The best-P study, stage by stage: moved to :mod:`hetconv_edu.study.driver`. This module only
re-exports its names, so that code written for ``hetconv_edu.study_driver`` keeps working."""

from hetconv_edu.study.driver import *  # noqa: F403
from hetconv_edu.study.driver import __all__  # noqa: F401
