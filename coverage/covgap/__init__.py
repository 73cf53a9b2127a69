"""covgap: mobile-coverage gap analysis for rural, mountainous districts.

Join village boundaries, grid-electricity status and cell-tower locations over
real terrain; find the uncovered and unpowered villages; model what existing
towers reach; rank candidate tower sites; publish maps and priority lists.

The public functions are importable from here; they load their modules (and
numba's compiled kernels) on first use, so ``import covgap`` stays light:

>>> import covgap
>>> analysis = covgap.analyse("data")  # doctest: +SKIP
>>> plan = covgap.plan_sites(analysis, k=10)  # doctest: +SKIP
>>> visible = covgap.viewshed("dem.tif", [(330_000, 2_427_000)], 15_000)  # doctest: +SKIP
"""

from __future__ import annotations

from covgap._guard import shield_coverage_name

shield_coverage_name()  # must run before anything imports numba

import logging  # noqa: E402

from covgap._lazy import lazy_names  # noqa: E402

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: Public name -> module that defines it (imported on first access).
_LAZY = {
    "analyse": "covgap.analysis",
    "Analysis": "covgap.analysis",
    "load_dataset": "covgap.data.dataset",
    "Dataset": "covgap.data.dataset",
    "find_gaps": "covgap.gaps",
    "load_scenario": "covgap.radio.scenario",
    "Scenario": "covgap.radio.scenario",
    "load_terrain": "covgap.data.terrain",
    "viewshed": "covgap.radio.visibility",
    "compute_signal": "covgap.radio.signal",
    "itm_loss_db": "covgap.radio.itm",
    "plan_sites": "covgap.planning.siteplan",
    "SitePlan": "covgap.planning.siteplan",
    "compare_scenarios": "covgap.compare",
    "generate_demo": "covgap.demo",
    "demo_dir": "covgap.demo",
}

__getattr__, __dir__, _names = lazy_names(__name__, _LAZY)
__all__ = ["__version__", *_names]
