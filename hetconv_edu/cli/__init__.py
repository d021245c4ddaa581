"""The command line, ``python -m hetconv_edu <command>`` (:mod:`hetconv_edu.__main__` says what
each command does): one module per command (:mod:`~hetconv_edu.cli.train` with its options made
from ``TrainConfig`` in :mod:`~hetconv_edu.cli.train_options`, :mod:`~hetconv_edu.cli.doctor`,
:mod:`~hetconv_edu.cli.student`, :mod:`~hetconv_edu.cli.convert_report`,
:mod:`~hetconv_edu.cli.export_site`), what they share (:mod:`~hetconv_edu.cli.common`) and the
parser with its entry point (:mod:`~hetconv_edu.cli.main`).

No module here imports torch at its top: a command imports what it needs when it is registered,
and one that cannot (torch missing or broken) is registered as unavailable, so the doctor runs.
"""
