"""Network realisations shared by every simulator of a scenario in one process.

A realisation's link terms (`LinkBudget.realisation_terms`: A and B, two float32 arrays of
cells × receivers) cost a draw of the shadowing and LOS fields plus a path-loss evaluation
(≈ 0.25 s on case1), but only 2 × 4 bytes per link to keep. They are kept in one LRU cache per
process, keyed by what the realisation depends on (the scenario's physical set-up and the
seed), so the envs of a DummyVecEnv and the episodes after the first visit of a realisation pay
nothing. The cache holds at most `CELLSIM_REALISATION_CACHE_MB` (default 1024) megabytes:
case1's training pool of 64 takes 300 MB, hex7's 26 MB.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

from cellsim.errors import ConfigError

if TYPE_CHECKING:
    from cellsim.scenario import Scenario

CACHE_ENV = "CELLSIM_REALISATION_CACHE_MB"
DEFAULT_CACHE_MB = 1024.0

Terms = tuple[np.ndarray, ...]  # A and B first (a sparse budget's carry its links too)


def cache_budget_bytes() -> int:
    text = os.environ.get(CACHE_ENV, "")
    if not text:
        return int(DEFAULT_CACHE_MB * 2**20)
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = -1.0
    if not megabytes >= 0:
        raise ConfigError(f"${CACHE_ENV} = {text!r}: allowed a number of megabytes ≥ 0")
    return int(megabytes * 2**20)


class TermsCache:
    """Least-recently-used realisation terms under a byte budget."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[str, int], Terms] = OrderedDict()
        self.bytes = 0

    def get(self, key: tuple[str, int]) -> Terms | None:
        terms = self._items.get(key)
        if terms is not None:
            self._items.move_to_end(key)
        return terms

    def put(self, key: tuple[str, int], terms: Terms) -> None:
        if key in self._items:
            return
        size = terms[0].nbytes + terms[1].nbytes
        budget = cache_budget_bytes()
        if size > budget:
            return
        while self._items and self.bytes + size > budget:
            _, old = self._items.popitem(last=False)
            self.bytes -= old[0].nbytes + old[1].nbytes
        self._items[key] = terms
        self.bytes += size

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0


CACHE = TermsCache()


def network_key(scenario: Scenario) -> str:
    """A short key for what a network realisation depends on: the scenario without its env
    table, name, description and events (outages and hotspot events switch cells off or move
    demand during the day; the links are the same). Two scenarios with one key have the same
    realisation for every network seed: hex7 and outage do."""
    physical = scenario.model_dump_json(exclude={"env", "name", "description", "events"})
    return hashlib.sha1(physical.encode()).hexdigest()
