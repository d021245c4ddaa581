"""The best-P study's folder: moved to :mod:`hetconv_edu.study.folder`.

This module only re-exports the names it used to define, so that code written for
``hetconv_edu.study_folder`` keeps working; new code imports from the study package.
"""

from hetconv_edu.study.folder import (
    StudyFolder,
    StudyFolderError,
    study_folder_for,
)

__all__ = [
    "StudyFolder",
    "StudyFolderError",
    "study_folder_for",
]
