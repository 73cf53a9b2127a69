"""Deterministic generator of the SYNTHETIC Tủa Chùa demo dataset.

``generate_demo(out_dir)`` writes the dataset folder that ``covgap run`` uses
by default.  The communes' names, 2009 census populations and approximate
centroids are real; boundaries, terrain, villages, grid, towers and survey are
synthetic and drawn from one fixed seed, so two runs give identical bytes.
"""

from covgap.demo.generator import generate_demo

__all__ = ["generate_demo"]
