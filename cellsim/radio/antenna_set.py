"""Several antenna models in one network: e.g. a dual-band panel's low-band and high-band
patterns on a network's two carriers, or a cell of another model among a site database's.

A container: which model each cell uses (by antenna name and carrier). The link budget keeps one
vertical look-up table made of the models' own tables one after the other, and each cell's links
index its model's stretch in that model's own step (`cellsim.engine.LinkBudget`): every model's
pattern is read exactly as it alone would be, and a step stays one gather per link.

As a plain `AntennaPattern` (one gain for the whole network, e.g. the planning rule's beamwidth),
a set is its first model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from cellsim.errors import ParameterError
from cellsim.radio.antenna import AntennaPattern, FloatArray, VerticalTable


@dataclass(frozen=True, eq=False)
class AntennaSet(AntennaPattern):
    """Antenna models keyed by (model name, carrier frequency in MHz) of the cells using them."""

    KIND = "antenna-set"

    keys: tuple[tuple[str, float], ...]
    models: tuple[AntennaPattern, ...]

    def __post_init__(self) -> None:
        if len(self.keys) != len(self.models) or len(self.models) < 2:
            raise ParameterError("models", len(self.models), "two or more, one per key")

    def cell_models(self, names: tuple[str, ...], frequency_mhz: np.ndarray) -> np.ndarray:
        """Index of each cell's model, (n_cells,) intp, from its antenna name and frequency."""
        index = {k: i for i, k in enumerate(self.keys)}
        pairs = zip(names, frequency_mhz, strict=True)
        return np.array([index[(a, float(f))] for a, f in pairs], np.intp)

    # As one pattern: the first model.
    @property
    def peak_gain_dbi(self) -> float:
        return self.models[0].peak_gain_dbi

    def _local_gain_dbi(
        self, az_local_deg: FloatArray, down_local_deg: FloatArray, tilt_deg: FloatArray
    ) -> FloatArray:
        return self.models[0]._local_gain_dbi(az_local_deg, down_local_deg, tilt_deg)

    def static_terms(
        self, az_local_deg: ArrayLike, down_local_deg: ArrayLike
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        return self.models[0].static_terms(az_local_deg, down_local_deg)

    def tilt_shift(self, electrical_tilt_deg: ArrayLike) -> float | FloatArray:
        return self.models[0].tilt_shift(electrical_tilt_deg)

    def vertical_table(self) -> VerticalTable:
        return self.models[0].vertical_table()
