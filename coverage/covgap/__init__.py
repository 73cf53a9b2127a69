"""covgap: mobile-coverage gap analysis for rural, mountainous districts.

Join village boundaries, grid-electricity status and cell-tower locations over
real terrain; find the uncovered and unpowered villages; publish maps and
priority lists.
"""

from __future__ import annotations

from covgap._guard import shield_coverage_name

shield_coverage_name()  # must run before anything imports numba

import logging  # noqa: E402

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__"]
