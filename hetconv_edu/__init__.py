"""hetconv_edu: an interactive teaching package about HetConv (Singh et al., CVPR 2019).

Modules: :mod:`~hetconv_edu.pattern` (which kernel is K×K, numpy only),
:mod:`~hetconv_edu.layers` (HetConv2d and the baseline families), :mod:`~hetconv_edu.flops`
(analytic and measured cost), :mod:`~hetconv_edu.timing` (the one timer). Importing the package
only imports: no downloads, no device probing, no files written.
"""

from hetconv_edu.layers import HetConv2d, make_conv, parse_conv_spec
from hetconv_edu.pattern import hetconv_pattern, valid_parts

__version__ = "0.1.0"

__all__ = [
    "HetConv2d",
    "__version__",
    "hetconv_pattern",
    "make_conv",
    "parse_conv_spec",
    "valid_parts",
]
