"""Remote electrical tilt as operators run it: a daily move budget per cell and a minimum dwell
after each move (so a change is verified before the next), enforced by the env.

A requested move that the budget or the dwell forbids is held (the cell keeps its tilt) and
counted; the observation tells each cell how much of its budget is left and how long it must
still wait, so a policy can plan with them. Days are counted on the env's clock from the
episode start.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from cellsim.kernels import JIT_OPTIONS_STRICT
from cellsim.scenario import RetConfig

MINUTES_PER_DAY = 1440.0


class RetState:
    """Per-cell moves today and time of the last move; `admit` filters requested tilts."""

    def __init__(self, config: RetConfig, n_cells: int):
        self.config = config
        self.moves_today = np.zeros(n_cells, np.int64)
        self.moves_total = np.zeros(n_cells, np.int64)
        self.last_move_min = np.full(n_cells, -np.inf)
        self._day = 0
        self.held_budget = 0  # moves held so far this episode, by reason
        self.held_dwell = 0

    def admit(
        self, current_deg: np.ndarray, requested_deg: np.ndarray, now_min: float
    ) -> np.ndarray:
        """The tilts the cells may take at `now_min` (minutes since the episode start)."""
        self._roll(now_min)
        cfg = self.config
        budget = -1 if cfg.max_moves_per_day is None else cfg.max_moves_per_day
        out = np.empty_like(requested_deg)
        held = _admit(current_deg, requested_deg, now_min, cfg.min_dwell_minutes, budget,
                      self.moves_today, self.moves_total, self.last_move_min, out)  # fmt: skip
        self.held_dwell += int(held[0])
        self.held_budget += int(held[1])
        return out

    def _roll(self, now_min: float) -> None:
        """A new day on the clock renews every cell's budget."""
        day = int(now_min // MINUTES_PER_DAY)
        if day != self._day:
            self._day = day
            self.moves_today[:] = 0

    def may_move(self, now_min: float) -> np.ndarray:
        """(n_cells,) bool: the cells whose budget and dwell let them move at `now_min`."""
        self._roll(now_min)
        ok = now_min - self.last_move_min >= self.config.min_dwell_minutes
        if self.config.max_moves_per_day is not None:
            ok &= self.moves_today < self.config.max_moves_per_day
        return ok

    def moves_left(self, now_min: float) -> np.ndarray:
        """Share of today's budget left per cell at `now_min` (1 without a budget)."""
        return self.left(now_min)[0]

    def dwell_left(self, now_min: float) -> np.ndarray:
        """Share of the minimum dwell each cell must still wait before it may move (0: free)."""
        return self.left(now_min)[1]

    def plan_key(self, now_min: float) -> dict[str, list[float] | list[int]]:
        """What a plan made at `now_min` depends on from the RET state (JSON-ready): the moves
        made today and the minutes since each cell's last move (-1: never moved)."""
        since = now_min - self.last_move_min
        return {"moves_today": self.moves_today.tolist(),
                "minutes_since_move": np.where(np.isfinite(since), since, -1.0).tolist()}

    def left(
        self, now_min: float, out: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(`moves_left`, `dwell_left`) in one pass, float32, into the two rows of `out`
        ((2, n_cells) float32) if given: the observation's RET features."""
        self._roll(now_min)
        if out is None:
            out = np.empty((2, len(self.moves_today)), np.float32)
        budget = self.config.max_moves_per_day
        _left(self.moves_today, self.last_move_min, now_min, -1 if budget is None else budget,
              self.config.min_dwell_minutes, out[0], out[1])  # fmt: skip
        return out[0], out[1]


@nb.njit(**JIT_OPTIONS_STRICT)  # −inf (never moved) must compare as −inf
def _left(
    moves_today: np.ndarray,
    last_move_min: np.ndarray,
    now_min: float,
    budget: int,
    dwell_min: float,
    moves_out: np.ndarray,
    dwell_out: np.ndarray,
) -> None:
    """Per cell the share of today's budget left (1 with `budget` < 0: none) and the share of
    the dwell still to wait (0 with no dwell)."""
    for c in range(moves_today.shape[0]):
        moves_out[c] = (budget - moves_today[c]) / budget if budget >= 0 else 1.0
        wait = min(max(dwell_min - (now_min - last_move_min[c]), 0.0), dwell_min)
        dwell_out[c] = wait / dwell_min if dwell_min > 0 else 0.0


@nb.njit(**JIT_OPTIONS_STRICT)  # −inf (never moved) must compare as −inf
def _admit(
    current_deg: np.ndarray,
    requested_deg: np.ndarray,
    now_min: float,
    dwell_min: float,
    budget: int,
    moves_today: np.ndarray,
    moves_total: np.ndarray,
    last_move_min: np.ndarray,
    out: np.ndarray,
) -> tuple[int, int]:
    """Per cell: a requested change is taken if the cell has waited out its dwell and has a
    move left today (`budget` < 0: no budget), else held (the dwell counted first); the
    counters and move times are updated. Returns (held by the dwell, held by the budget)."""
    held_dwell = held_budget = 0
    for c in range(current_deg.shape[0]):
        out[c] = current_deg[c]
        if requested_deg[c] == current_deg[c]:
            continue
        if now_min - last_move_min[c] < dwell_min:
            held_dwell += 1
        elif 0 <= budget <= moves_today[c]:
            held_budget += 1
        else:
            out[c] = requested_deg[c]
            moves_today[c] += 1
            moves_total[c] += 1
            last_move_min[c] = now_min
    return held_dwell, held_budget
