"""Stage 2, radio: what the towers reach over the terrain.

Path-loss models (free space, Okumura-Hata, COST-231, knife-edge and Deygout
diffraction; ITM / Longley-Rice point-to-point, :func:`itm_loss_db`), the
radio scenario, the compiled kernels (private: ``_raycast``, ``_itm``), line
of sight (:func:`viewshed`), received signal and the best server
(:func:`compute_signal`), point-to-point links, and each village's reception.

The names below load their modules on first access, so importing this
package does not start numba.
"""

from __future__ import annotations

from covgap._lazy import lazy_names

#: Public name -> module that defines it (imported on first access).
_LAZY = {
    "Scenario": "covgap.radio.scenario",
    "as_scenario": "covgap.radio.scenario",
    "default_scenario": "covgap.radio.scenario",
    "load_scenario": "covgap.radio.scenario",
    "viewshed": "covgap.radio.visibility",
    "SignalResult": "covgap.radio.signal",
    "compute_signal": "covgap.radio.signal",
    "itm_loss_db": "covgap.radio.itm",
    "ItmParameters": "covgap.radio.itm",
    "coverage_matrix": "covgap.radio.links",
    "line_of_sight": "covgap.radio.links",
    "signal_reception": "covgap.radio.reception",
    "compare_with_survey": "covgap.radio.reception",
}

__getattr__, __dir__, __all__ = lazy_names(__name__, _LAZY)
