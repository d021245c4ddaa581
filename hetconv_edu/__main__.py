"""Command line of hetconv_edu: ``python -m hetconv_edu <command> ...`` (or ``hetconv-edu``).

Commands:

* ``train`` — train one network (:class:`hetconv_edu.train.Trainer`)::

      python -m hetconv_edu train --model small_vgg --conv hetconv:4 --epochs 3 \\
          --subset 5000 --data-root DIR
      python -m hetconv_edu train --conv hetconv:4 --resume      # continue runs/<name>/

* ``compare`` — train several convolution families on the same data and print a table of test
  accuracy, parameters, MACs per image, seconds per epoch and images per second::

      python -m hetconv_edu compare --conv standard hetconv:4 hetconv:8 --epochs 2 --subset 5000

* ``doctor`` — check the setup (package versions, a Jupyter server older than the widgets, data
  sets, torch) and say how to fix what is wrong; exit status 1 when something is an error::

      python -m hetconv_edu doctor [--data-root DIR]

* ``student-notebooks`` — copies of the notebooks without their ``solution`` cells (needs
  ``nbformat``, see :data:`NEEDS`)::

      python -m hetconv_edu student-notebooks OUT [--notebooks DIR]

* ``convert-report`` — convert a network's convolutions to HetConv and print per-layer MACs and
  parameters before and after, and the measured time of the whole network before and after
  (:mod:`hetconv_edu.conversion_report`); a torchvision model needs torchvision::

      python -m hetconv_edu convert-report resnet18 --p 4 [--size 224] [--batch 1]

* ``export-site`` — write the kernel explorer and the per-layer cost lab as a static page
  (HTML + plotly.js + data computed here, nothing fetched) that opens from ``file://`` or any
  static host (:mod:`hetconv_edu.site`)::

      python -m hetconv_edu export-site OUT [--overwrite] [--channels 4 8 16 ...]

``train`` and ``compare`` run under ``torchrun --nproc_per_node=K -m hetconv_edu train ...``
(DistributedDataParallel; only rank 0 prints and writes files).

Bad arguments end with a one-line error and exit status 2; missing or damaged data, a folder
that cannot be written (read-only, disk full) and a run that cannot go on (diverged, damaged
checkpoint, run folder in use) with a one-line error and exit status 1 (no traceback); warnings
(e.g. more threads than cores) are printed on one line.

Run folders are never overwritten: ``train`` refuses a folder that holds a run unless told
``--resume`` (continue it, with its saved settings: options that differ are refused) or
``--overwrite`` (replace it); ``--name`` picks another folder.
The commands live in :mod:`hetconv_edu.cli`, one module each, with the parser and
:func:`main` in :mod:`hetconv_edu.cli.main`; this module runs it and re-exports :func:`main`,
:func:`build_parser`, :data:`COMMANDS` and :data:`NEEDS`. New commands: write
``add_NAME(subparsers)`` in a module of :mod:`hetconv_edu.cli` that registers a parser with
``set_defaults(handler=...)`` and add it to :data:`COMMANDS`.
"""

from hetconv_edu.cli.main import COMMANDS, NEEDS, build_parser, main

__all__ = ["COMMANDS", "NEEDS", "build_parser", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
