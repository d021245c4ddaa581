"""The weight-sharing network of the best-P study: moved to :mod:`hetconv_edu.study.supernet`. This
module only re-exports its names, so that code written for ``hetconv_edu.supernet`` keeps
working."""

from hetconv_edu.study.supernet import *  # noqa: F403
from hetconv_edu.study.supernet import __all__  # noqa: F401
