"""Receiver points: a UE drop or a map raster, with what is fixed per point (height, O2I loss)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Receivers:
    """Points where the network is evaluated; everything here is tilt-independent.

    `d2d_in_m` is the indoor part of the 2D distance (0 outdoors): the LOS probability uses the
    outdoor part only (TR 38.901 §7.4.3). `o2i_loss_db` is the building penetration loss.
    `weight` is the demand each point stands for (1 per UE in a drop).
    """

    xy_m: np.ndarray  # (n, 2)
    height_m: np.ndarray  # (n,)
    indoor: np.ndarray  # (n,) bool
    d2d_in_m: np.ndarray  # (n,)
    o2i_loss_db: np.ndarray  # (n,)
    weight: np.ndarray  # (n,)

    def __len__(self) -> int:
        return len(self.xy_m)

    @classmethod
    def outdoor(cls, xy_m: np.ndarray, height_m: float = 1.5) -> Receivers:
        """Outdoor points at one height, e.g. a map raster or the `bench` drop."""
        xy = np.asarray(xy_m, float)
        n = len(xy)
        return cls(
            xy, np.full(n, height_m), np.zeros(n, bool), np.zeros(n), np.zeros(n), np.ones(n)
        )
