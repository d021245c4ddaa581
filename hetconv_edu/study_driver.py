"""The best-P study, stage by stage: moved to :mod:`hetconv_edu.study.driver`.

This module only re-exports the names it used to define, so that code written for
``hetconv_edu.study_driver`` keeps working; new code imports from the study package.
"""

from hetconv_edu.study.driver import (
    Study,
    StudyError,
    StudySettings,
    StudyStopped,
    data_fingerprint,
    load_average,
)

__all__ = [
    "Study",
    "StudyError",
    "StudySettings",
    "StudyStopped",
    "data_fingerprint",
    "load_average",
]
