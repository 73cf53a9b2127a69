"""Stage 4, planning: where to build next, and at what cost.

Candidate sites, tower/power/backhaul costs, budgeted maximal coverage
(greedy and exact; the solver kernels ``_mclp`` and ``_mclp_bb`` are
private), the electrification list, and :func:`plan_sites`, which runs them
into a ranked :class:`SitePlan`; least-cost line routes over the terrain
(``routing``) and :func:`plan_joint`, which plans grid extensions and towers
together in one MIP (its kernel ``_joint`` is private).

The names below load their modules on first access.
"""

from __future__ import annotations

from covgap._lazy import lazy_names

#: Public name -> module that defines it (imported on first access).
_LAZY = {
    "SitePlan": "covgap.planning.siteplan",
    "plan_sites": "covgap.planning.siteplan",
    "ExactCoverage": "covgap.planning.plan",
    "GreedyCoverage": "covgap.planning.plan",
    "CostSettings": "covgap.planning.costs",
    "load_cost_settings": "covgap.planning.costs",
    "JointPlan": "covgap.planning.joint",
    "plan_joint": "covgap.planning.joint",
}

__getattr__, __dir__, __all__ = lazy_names(__name__, _LAZY)
