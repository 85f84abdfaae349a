"""UE drops as in 3GPP system-level calibration (TR 38.901 §7.8.1, TR 36.873 §8)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cellsim.errors import ParameterError
from cellsim.network.layout import Layout, hexagon_contains
from cellsim.network.receivers import Receivers
from cellsim.radio.o2i import draw_indoor_distance_m, draw_o2i_loss_db

OUTDOOR_HEIGHT_M = 1.5
FLOOR_HEIGHT_M = 3.0


@dataclass(frozen=True)
class DropSpec:
    """How UEs are placed: uniformly over the sites' hexagons, indoor on random floors."""

    min_distance_m: float = 35.0
    indoor_fraction: float = 0.8
    floors_min: int = 4  # N_fl ~ U{floors_min..floors_max}, n_fl ~ U{1..N_fl}
    floors_max: int = 8
    indoor_distance_max_m: float = 25.0
    indoor_distance: str = "min-of-two-uniform"  # TR 38.901; "uniform" for TR 36.873
    o2i_model: str = "tr38901"  # or "tr36873" (20 dB + 0.5 d_in), or "fixed"
    fixed_loss_db: float = 20.0  # o2i_model "fixed": TR 36.814 case 1's 20 dB penetration loss
    high_loss_fraction: float = 0.5  # TR 38.901 only


def uniform_in_hexagons(
    rng: np.random.Generator, layout: Layout, n: int, min_distance_m: float
) -> np.ndarray:
    """Uniform over the union of the sites' hexagons, at least `min_distance_m` from any site
    (through wrap-around images): a site at random, then rejection from its bounding box."""
    if layout.isd_m is None:
        raise ParameterError("layout", "csv", "a hexagonal layout (isd_m) for a UE drop")
    radius = layout.isd_m / np.sqrt(3.0)
    if not 0 <= min_distance_m < 0.8 * layout.isd_m / 2:
        raise ParameterError(
            "calibration.min_distance_m", min_distance_m,
            f"0 … {0.8 * layout.isd_m / 2:g} m (0.4 × ISD) so that UEs fit between the sites",
        )  # fmt: skip
    out = np.empty((0, 2))
    while len(out) < n:
        m = 2 * (n - len(out)) + 64
        site = rng.integers(layout.n_sites, size=m)
        rel = rng.uniform(-radius, radius, size=(m, 2))
        rel = rel[hexagon_contains(rel, np.zeros(2), radius)]
        pts = layout.sites_xy_m[site[: len(rel)]] + rel
        off = layout.nearest_image_offsets(pts)
        near = np.hypot(off[..., 0], off[..., 1]).min(axis=0)
        out = np.vstack([out, pts[near >= min_distance_m]])
    return out[:n]


def drop_ues(
    rng: np.random.Generator, layout: Layout, n: int, spec: DropSpec, fc_ghz: float
) -> Receivers:
    """Drop `n` UEs: positions, heights (h_UT = 3(n_fl − 1) + 1.5 m indoors), indoor distance
    and O2I penetration loss, all from `rng`."""
    if not (isinstance(n, (int, np.integer)) and n > 0):
        raise ParameterError("ues", n, "an integer > 0")
    if not 0.0 <= spec.indoor_fraction <= 1.0:
        raise ParameterError("drop.indoor_fraction", spec.indoor_fraction, "0…1")
    if not 1 <= spec.floors_min <= spec.floors_max:
        raise ParameterError(
            "drop.floors_min", spec.floors_min, f"1…floors_max ({spec.floors_max})"
        )
    xy = uniform_in_hexagons(rng, layout, n, spec.min_distance_m)
    indoor = rng.random(n) < spec.indoor_fraction
    n_floors = rng.integers(spec.floors_min, spec.floors_max + 1, size=n)
    floor = rng.integers(0, n_floors) + 1  # 1..N_fl
    height = np.where(indoor, FLOOR_HEIGHT_M * (floor - 1) + OUTDOOR_HEIGHT_M, OUTDOOR_HEIGHT_M)
    if spec.indoor_distance == "min-of-two-uniform":
        d_in = draw_indoor_distance_m(rng, n, spec.indoor_distance_max_m)
    elif spec.indoor_distance == "uniform":
        d_in = rng.uniform(0.0, spec.indoor_distance_max_m, n)
    else:
        raise ParameterError(
            "drop.indoor_distance", spec.indoor_distance, "min-of-two-uniform or uniform"
        )
    d_in = np.where(indoor, d_in, 0.0)
    high_loss = rng.random(n) < spec.high_loss_fraction
    if spec.o2i_model == "fixed":
        o2i = np.full(n, spec.fixed_loss_db)
    else:
        o2i = draw_o2i_loss_db(rng, fc_ghz, d_in, high_loss, spec.o2i_model)
    o2i = np.where(indoor, o2i, 0.0)
    return Receivers(xy, height, indoor, d_in, o2i, np.ones(n))
