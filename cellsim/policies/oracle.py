"""`oracle`: the name the reference had before issue 15, kept while `cellsim.policies`,
`cellsim.evaluation` and the CLI still use it; it is now the trajectory reference
(`cellsim.policies.reference`), not the per-snapshot search it was.

`optimise_tilts` (coordinate descent over one set of tilts, exhaustive on small grids) is kept
while `cellsim.policies` exports it; nothing in cellsim calls it any more.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from cellsim.policies.reference import Reference

EXHAUSTIVE_LIMIT = 5_000  # search every tilt combination when there are at most this many


def optimise_tilts(
    objective: Callable[[np.ndarray], float],
    grid_deg: np.ndarray,
    start_deg: np.ndarray,
    rng: np.random.Generator,
    restarts: int = 2,
    max_sweeps: int = 10,
    exhaustive_limit: int = EXHAUSTIVE_LIMIT,
) -> tuple[np.ndarray, float]:
    """Tilts (on `grid_deg`) maximising `objective`, and its value.

    Exhaustive when len(grid)^n_cells ≤ exhaustive_limit; else coordinate descent: each sweep
    visits the cells in random order and moves one to the best tilt of the whole grid, until a
    sweep improves nothing; repeated from `restarts` random starts besides `start_deg`.
    """
    n = len(start_deg)
    if len(grid_deg) ** n <= exhaustive_limit:
        best, best_value = start_deg.copy(), -np.inf
        for combo in itertools.product(grid_deg, repeat=n):
            tilts = np.array(combo, float)
            value = objective(tilts)
            if value > best_value:
                best, best_value = tilts, value
        return best, best_value
    starts = [start_deg.copy()] + [rng.choice(grid_deg, n) for _ in range(restarts)]
    best, best_value = start_deg.copy(), -np.inf
    for tilts in starts:
        value = objective(tilts)
        for _ in range(max_sweeps):
            improved = False
            for c in rng.permutation(n):
                keep = tilts[c]
                for t in grid_deg:
                    if t == keep:
                        continue
                    tilts[c] = t
                    v = objective(tilts)
                    if v > value + 1e-12:
                        value, keep, improved = v, t, True
                tilts[c] = keep
            if not improved:
                break
        if value > best_value:
            best, best_value = tilts.copy(), value
    return best, best_value


class Oracle(Reference):
    """The reference under its old name (`oracle` in compare's tables until they rename it)."""

    name = "oracle"
