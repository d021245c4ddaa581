"""The best-P study's folder: moved to :mod:`hetconv_edu.study.folder`. This module only re-exports
its names, so that code written for ``hetconv_edu.study_folder`` keeps working."""

from hetconv_edu.study.folder import *  # noqa: F403
from hetconv_edu.study.folder import __all__  # noqa: F401
