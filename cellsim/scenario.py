"""Scenario files: schema, loading, validation, and the registry of built-in scenarios.

A scenario is one TOML file. Built-ins live in the top-level `scenarios/` folder (shipped in the
wheel as `cellsim.scenarios`); users pass a file path instead of a name. Validation rejects unknown
keys (with a "did you mean"), wrong types and out-of-range values, and names the file, the field
path, the value and what is allowed.

A file may start from another: `extends = "hex7"` (a built-in name, a name in
$CELLSIM_SCENARIO_PATH, or a .toml path relative to the file; a built-in extends built-ins only).
Loading deep-merges the child's TOML over the parent's, parents first along a chain:
- tables merge key by key, recursively;
- everything else is replaced whole by the child's, arrays too: `[[demand.hotspots]]` or
  `[[events]]` in a child is the whole list, not an addition. One rule, no append syntax: a child
  that wants the parent's hotspots plus one repeats them, and `cellsim scenarios show` prints
  what a file resolves to;
- a child that changes `layout.type`, `pathloss.model` or `antenna.kind` replaces that table
  (the other keys mean something else under another selector);
- `name` and `description` are never inherited: every file names and describes itself;
- a relative path in a parent (a CSV `layout.file`) stays relative to the parent's file;
- each parent must be a valid scenario itself; a cycle, an unknown parent or an invalid parent is
  one line naming the child, `extends` and its value.
"""

from __future__ import annotations

import difflib
import importlib.resources
import inspect
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from cellsim.contract import (  # the reward table: one weight per term of the contract
    EXCESS_LOAD_GUARANTEE,
    RewardWeights,
    overload_guarantee_weight,
)
from cellsim.errors import CellsimError, ScenarioError, read_user_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PERCENTILES = tuple(range(5, 100, 5))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HexLayoutConfig(_Strict):
    """A 3GPP hexagonal network of three-sector sites."""

    type: Literal["hex"] = "hex"
    n_sites: Annotated[int, Field(ge=1, le=331)] = 7  # 1 + 3 r (r + 1): 1, 7, 19, 37, 61, …
    isd_m: Annotated[float, Field(gt=0, le=100_000)] = 500.0
    height_m: Annotated[float, Field(gt=0, le=300)] = 25.0
    tilt_deg: Annotated[float, Field(ge=-90, le=90)] = 12.0
    mech_tilt_deg: Annotated[float, Field(ge=-90, le=90)] = 0.0
    wraparound: bool = False

    @field_validator("n_sites")
    @classmethod
    def _full_rings(cls, n_sites: int) -> int:
        from cellsim.network.layout import HEX_SITE_COUNTS

        if n_sites not in HEX_SITE_COUNTS:
            rings = ", ".join(map(str, HEX_SITE_COUNTS))
            raise ValueError(f"allowed full hexagonal rings: {rings}")
        return n_sites

    @model_validator(mode="after")
    def _wrap_needs_cluster(self) -> HexLayoutConfig:
        if self.wraparound and self.n_sites not in (7, 19):
            raise ValueError("wraparound needs n_sites 7 or 19")
        return self


class CsvLayoutConfig(_Strict):
    """Sites from a CSV file (one row per cell), relative to the scenario file."""

    type: Literal["csv"]
    file: str


class SitesLayoutConfig(_Strict):
    """A site database (cellsim.network.sites): one row per cell with coordinates, carrier,
    power and antenna model, from a CSV file or inline `[[layout.cells]]` tables."""

    type: Literal["sites"]
    file: str | None = None  # CSV, relative to the scenario file
    cells: Annotated[list[dict[str, str | float]], Field(min_length=1)] | None = None
    crs: str | None = None  # of x_m/y_m columns, e.g. "EPSG:27700"; lat/lon are WGS84
    # folders of antenna pattern files; default: "antennas" next to the site database
    antenna_dir: str | None = None
    # the carrier to simulate, MHz (required when the database has several)
    carrier_mhz: Annotated[float, Field(gt=0, le=100_000)] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SitesLayoutConfig:
        if (self.file is None) == (self.cells is None):
            raise ValueError("give the site database as layout.file (a CSV) or as "
                             "[[layout.cells]] rows, one of the two")  # fmt: skip
        return self


def _layout_type(value: Any) -> str:
    """`type` picks the layout model; a table without one is a hexagonal layout."""
    kind = value.get("type", "hex") if isinstance(value, dict) else getattr(value, "type", "hex")
    return kind if isinstance(kind, str) else "hex"


class RadioConfig(_Strict):
    fc_ghz: Annotated[float, Field(gt=0, le=100)] = 2.0
    n_prb: Annotated[int, Field(ge=6, le=275)] = 50
    tx_power_dbm: Annotated[float, Field(ge=-30, le=80)] = 46.0
    noise_figure_db: Annotated[float, Field(ge=0, le=30)] = 9.0


class PathlossConfig(_Strict):
    model: Literal["uma", "umi", "rma", "uma-36873", "umi-36873", "macro", "cost231", "fspl"]
    avg_building_height_m: float | None = None  # rma
    street_width_m: float | None = None  # rma
    bs_above_rooftop_m: float | None = None  # macro
    metropolitan: bool | None = None  # cost231

    def params(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump(exclude={"model"}).items() if v is not None}


class AntennaConfig(_Strict):
    kind: Literal["tr36814", "tr38901"] = "tr36814"
    # tr36814
    phi_3db_deg: float | None = None
    theta_3db_deg: float | None = None
    a_m_db: float | None = None
    sla_v_db: float | None = None
    max_gain_dbi: float | None = None
    # tr38901
    a_max_db: float | None = None
    element_gain_dbi: float | None = None
    n_elements: int | None = None
    spacing_wavelengths: float | None = None

    def params(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump(exclude={"kind"}).items() if v is not None}


class ShadowingConfig(_Strict):
    enabled: bool = True
    inter_site_correlation: Annotated[float, Field(ge=0, le=1)] = 0.0
    indoor_std_db: Annotated[float, Field(ge=0, le=30)] | None = None


class ReferenceConfig(_Strict):
    """Published percentiles p5…p95 to compare a calibration with."""

    source: str
    coupling_loss_db: Annotated[list[float], Field(min_length=19, max_length=19)]
    geometry_db: Annotated[list[float], Field(min_length=19, max_length=19)]


class CalibrationConfig(_Strict):
    """The UE drop of a 3GPP large-scale calibration."""

    ues: Annotated[int, Field(ge=1, le=10_000_000)] = 20_000
    drops: Annotated[int, Field(ge=1, le=10_000)] = 20  # independent drops the UEs are split over
    min_distance_m: Annotated[float, Field(ge=0, le=10_000, allow_inf_nan=False)] = 35.0
    indoor_fraction: Annotated[float, Field(ge=0, le=1)] = 0.8
    floors: tuple[Annotated[int, Field(ge=1, le=100)], Annotated[int, Field(ge=1, le=100)]] = (4, 8)
    indoor_distance: Literal["min-of-two-uniform", "uniform"] = "min-of-two-uniform"
    indoor_distance_max_m: Annotated[float, Field(gt=0, le=1000)] = 25.0
    o2i_model: Literal["tr38901", "tr36873", "fixed"] = "tr38901"
    fixed_loss_db: Annotated[float, Field(ge=0, le=100)] = 20.0  # o2i_model = "fixed"
    high_loss_fraction: Annotated[float, Field(ge=0, le=1)] = 0.5
    reference: ReferenceConfig | None = None

    @model_validator(mode="after")
    def _floors_ordered(self) -> CalibrationConfig:
        if self.floors[0] > self.floors[1]:
            raise ValueError("floors must be [fewest, most], e.g. [4, 8]")
        return self



Point2 = tuple[float, float]
Hours = Annotated[float, Field(ge=0, le=48)]


class ExclusionConfig(_Strict):
    """A part of the study area with no demand and no receiver points (water, parks)."""

    name: str = ""
    polygon: Annotated[list[Point2], Field(min_length=3)]


class AreaConfig(_Strict):
    """Where demand lives and maps are drawn: a polygon (default: the sites' hexagons for hex
    layouts, the sites' bounding box plus `margin_m` for CSV layouts), minus exclusions,
    sampled on a square raster.

    `file` and `exclusions_file` are GeoJSON files (relative to the scenario file) for
    geo-referenced networks (`layout.type = "sites"`): the study area is the union of the
    file's (Multi)Polygon features, and every feature of `exclusions_file` is one more exclusion
    zone (cellsim.network.area, cellsim.formats.geojson)."""

    polygon: Annotated[list[Point2], Field(min_length=3)] | None = None
    file: Annotated[str, Field(min_length=1)] | None = None  # GeoJSON study area
    margin_m: Annotated[float, Field(ge=0, le=50_000)] = 300.0
    exclusions: list[ExclusionConfig] = []
    exclusions_file: Annotated[str, Field(min_length=1)] | None = None  # GeoJSON exclusions
    resolution_m: Annotated[float, Field(gt=0, le=10_000)] = 25.0
    receiver_height_m: Annotated[float, Field(ge=1, le=10)] = 1.5

    @model_validator(mode="after")
    def _one_polygon(self) -> AreaConfig:
        if self.polygon is not None and self.file is not None:
            raise ValueError("give the study area as area.polygon (local metres) or as "
                             "area.file (GeoJSON), one of the two")  # fmt: skip
        return self


#: Built-in daily demand profiles, hourly multipliers at 00:00, 01:00, … 23:00 (interpolated).
ProfileName = Literal["flat", "business", "residential", "evening"]


class HotspotShape(_Strict):
    """Where and how dense extra demand is, shared by demand hotspots and hotspot events."""

    name: str = ""
    center_m: Point2 | None = None  # gaussian
    sigma_m: Annotated[float, Field(gt=0)] | None = None  # gaussian
    polygon: Annotated[list[Point2], Field(min_length=3)] | None = None  # polygon
    density: Annotated[float, Field(ge=0, le=1e6)] = 1.0  # relative to the base density
    profile: ProfileName | Annotated[list[float], Field(min_length=24, max_length=24)] = "flat"

    def _check_shape(self, shape: str, key: str) -> None:
        if shape == "gaussian" and (self.center_m is None or self.sigma_m is None):
            raise ValueError(f"a gaussian hotspot ({key} = 'gaussian') needs center_m and sigma_m")
        if shape == "polygon" and self.polygon is None:
            raise ValueError(f"a polygon hotspot ({key} = 'polygon') needs polygon")


class HotspotConfig(HotspotShape):
    """Extra demand: a Gaussian bump or a uniform polygon, scaled over the day by a profile."""

    kind: Literal["gaussian", "polygon"]
    active_hours: tuple[Hours, Hours] | None = None  # e.g. an event from 19:00 to 22:00

    @model_validator(mode="after")
    def _shape_fields(self) -> HotspotConfig:
        self._check_shape(self.kind, "kind")
        return self


class DemandConfig(_Strict):
    """Traffic demand over the study area and the day."""

    base_density: Annotated[float, Field(ge=0, le=1e6)] = 1.0  # relative demand everywhere
    base_profile: ProfileName | Annotated[list[float], Field(min_length=24, max_length=24)] = (
        "flat"
    )
    hotspots: list[HotspotConfig] = []
    # GeoJSON: each Point feature a gaussian hotspot, each (Multi)Polygon a uniform one, their
    # properties the keys of a hotspot (cellsim.network.demand); after `hotspots`
    hotspots_file: Annotated[str, Field(min_length=1)] | None = None
    peak_users: Annotated[float, Field(gt=0, le=1e7)] = 200.0  # active users at the busiest step
    user_rate_mbps: Annotated[float, Field(gt=0, le=1e4)] = 0.4  # offered traffic per user
    indoor_fraction: Annotated[float, Field(ge=0, le=1)] = 0.0
    indoor_loss_db: Annotated[float, Field(ge=0, le=60)] = 15.0  # mean O2I loss of indoor demand


def _check_hours(start_hour: float, end_hour: float) -> None:
    if end_hour <= start_hour:
        raise ValueError(
            f"end_hour = {end_hour:g} must be after start_hour = {start_hour:g} "
            "(past midnight: add 24, e.g. 22 to 26)"
        )


class OutageEvent(_Strict):
    """A site outage: its cells are off from `start_hour` to `end_hour`, every day of an
    episode (hours of the day; up to 48 to run past midnight)."""

    kind: Literal["outage"] = "outage"
    site: Annotated[int, Field(ge=0)]  # index of the site: hex order, or CSV order of first row
    start_hour: Hours
    end_hour: Hours

    @model_validator(mode="after")
    def _ordered(self) -> OutageEvent:
        _check_hours(self.start_hour, self.end_hour)
        return self


class HotspotEvent(HotspotShape):
    """Demand that exists only during an event (a match, a concert): a hotspot on from
    `start_hour` to `end_hour` every day of an episode, scaled by `profile` while on."""

    kind: Literal["hotspot"]
    shape: Literal["gaussian", "polygon"]
    start_hour: Hours
    end_hour: Hours

    @model_validator(mode="after")
    def _valid(self) -> HotspotEvent:
        self._check_shape(self.shape, "shape")
        _check_hours(self.start_hour, self.end_hour)
        return self


def _event_kind(value: Any) -> str:
    """`kind` picks the event model; an event without one is an outage (files before events
    had kinds)."""
    kind = value.get("kind", "outage") if isinstance(value, dict) else getattr(value, "kind", "")
    return kind if isinstance(kind, str) else repr(kind)


#: One event of a scenario. A new kind is one model here (with a `kind` literal) plus the code
#: that consumes it (outages: cellsim.simulator; hotspots: cellsim.network.demand).
Event = Annotated[
    Annotated[OutageEvent, Tag("outage")] | Annotated[HotspotEvent, Tag("hotspot")],
    Discriminator(_event_kind),
]
#: Models behind the tags of the scenario's tagged unions, for error messages.
_TAGGED: dict[str, dict[str, type[BaseModel]]] = {
    "layout": {"hex": HexLayoutConfig, "csv": CsvLayoutConfig, "sites": SitesLayoutConfig},
    "events": {"outage": OutageEvent, "hotspot": HotspotEvent},
}
#: The key whose value picks the model in each tagged union.
_TAG_KEY = {"layout": "type", "events": "kind"}


class PerCellConfig(_Strict):
    """The per-cell front-end (`cellsim.env.parallel_env`): what each cell's agent sees and is
    rewarded for. The centralised env ignores it."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    neighbours: Annotated[int, Field(ge=0, le=32)] = 6  # k most interfering cells observed
    own: Annotated[float, Field(ge=0, le=1e6)] = 0.0  # weight of the cell's own terms
    neighbourhood: Annotated[float, Field(ge=0, le=1e6)] = 0.0  # of its neighbours' terms
    network: Annotated[float, Field(ge=0, le=1e6)] = 1.0  # of the network reward (shared)

    @model_validator(mode="after")
    def _some_weight(self) -> PerCellConfig:
        if self.own + self.neighbourhood + self.network <= 0:
            raise ValueError("own, neighbourhood and network weights are all 0: no reward left")
        return self


class KpiConfig(_Strict):
    """Thresholds and the load model behind the KPIs (operator choices, docs/domain.md)."""

    rsrp_min_dbm: Annotated[float, Field(ge=-160, le=-40)] = -110.0
    sinr_min_db: Annotated[float, Field(ge=-30, le=30)] = -6.0
    overshoot_ratio: Annotated[float, Field(gt=0, le=10)] = 0.7  # of the distance to the next site
    # a cell admits flows up to this utilisation (PS queue: their throughput ∝ 1 − load); the
    # demand beyond it is blocked, unserved (cellsim.kpi)
    admission_load: Annotated[float, Field(gt=0, lt=1)] = 0.9
    idle_load: Annotated[float, Field(ge=0, le=1)] = 0.05  # interference floor: reference signals
    reference_rate_mbps: Annotated[float, Field(gt=0, le=1e6)] = 10.0  # throughput normaliser
    # the operator's weak-coverage threshold (a guard KPI; coverage itself uses rsrp_min_dbm)
    weak_rsrp_dbm: Annotated[float, Field(ge=-160, le=-40)] = -100.0
    # over-coverage (Meta RADP's CCO definition): RSRP ≥ weak_rsrp_dbm yet SINR ≤ this
    overcoverage_sinr_db: Annotated[float, Field(ge=-30, le=30)] = 0.0

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data: Any) -> Any:
        if isinstance(data, dict) and "max_load" in data:
            raise ValueError(
                "max_load was retired: an overloaded cell now blocks the demand beyond "
                "kpi.admission_load (unserved traffic) instead of capping its load; a run "
                "trained with max_load must be retrained"
            )
        return data


#: Network seeds below this are training realisations; held-out evaluation realisations are
#: EVAL_NETWORK_SEED0 + i, so no training pool of the default split can hold one.
EVAL_NETWORK_SEED0 = 1_000_000


class RealisationConfig(_Strict):
    """Which network realisations (shadowing, LOS, effective heights) episodes are drawn from.

    split "train": seeds 0 … pool_size − 1; "eval": the held-out seeds EVAL_NETWORK_SEED0 …
    EVAL_NETWORK_SEED0 + pool_size − 1; "fixed": `network_seed` only (every episode the same
    network, as before realisation pools). `seeds` gives the pool explicitly instead. Each reset
    picks one from the pool with the env's seeded generator (`reset(options={"network_seed":
    s})` forces one)."""

    split: Literal["train", "eval", "fixed"] = "train"
    pool_size: Annotated[int, Field(ge=1, le=EVAL_NETWORK_SEED0)] = 64
    seeds: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] | None = None

    def pool(self, network_seed: int) -> tuple[int, ...]:
        """The network seeds episodes are drawn from."""
        if self.seeds is not None:
            return tuple(self.seeds)
        if self.split == "fixed":
            return (network_seed,)
        first = 0 if self.split == "train" else EVAL_NETWORK_SEED0
        return tuple(range(first, first + self.pool_size))


class LoadConfig(_Strict):
    """The load ↔ interference fixed point, solved at every step (cellsim.kpi, docs/domain.md).

    A cell's load sets how much it interferes; interference sets every cell's SINR, rates and
    so its load. The simulator iterates the two from the previous step's loads until no carried
    load moves by more than `tolerance` (utilisation, 0…1) between iterates, at most
    `max_iterations` times (the count is in info["load_iterations"]; a step that hits the cap
    says so in info["load_converged"])."""

    tolerance: Annotated[float, Field(gt=0, le=0.1)] = 1e-3
    max_iterations: Annotated[int, Field(ge=1, le=200)] = 50


class RetConfig(_Strict):
    """Remote electrical tilt as operators run it (cellsim.env.ret): at most
    `max_moves_per_day` moves per cell per day (None: unlimited), each cell holding its tilt
    `min_dwell_minutes` after a move (the change is verified over an hourly KPI interval
    before the next), and a decision every `decision_minutes` (None: every step of the
    clock; e.g. 60 with 15-minute steps: hourly decisions, the clock ticking four times per
    decision). Moves beyond the budget or inside the dwell are held and counted in info."""

    max_moves_per_day: Annotated[int, Field(ge=1, le=100_000)] | None = 6
    min_dwell_minutes: Annotated[float, Field(ge=0, le=10_080)] = 60.0
    decision_minutes: Annotated[int, Field(ge=1, le=1440)] | None = None


class EnvConfig(_Strict):
    """Environment defaults of a scenario; `gymnasium.make(..., config=...)` and
    `reset(options={"config": ...})` deep-merge overrides onto them."""

    step_minutes: Annotated[int, Field(ge=1, le=1440)] = 15
    start_hour: Annotated[float, Field(ge=0, lt=24)] = 0.0
    episode_hours: Annotated[float, Field(gt=0, le=168)] = 24.0
    action: Literal["discrete", "continuous"] = "discrete"
    tilt_min_deg: Annotated[float, Field(ge=-20, le=45)] = 0.0
    tilt_max_deg: Annotated[float, Field(ge=-20, le=45)] = 15.0
    tilt_step_deg: Annotated[float, Field(gt=0, le=10)] = 1.0
    load: LoadConfig = LoadConfig()
    initial_tilt: Literal["scenario", "random"] = "scenario"  # random: uniform over the range
    demand_noise: Annotated[float, Field(ge=0, le=2)] = 0.1  # per-step log-normal σ per component
    # the network's own realisation (maps, neighbour lists, split "fixed"); episodes draw theirs
    # from `realisations`
    network_seed: Annotated[int, Field(ge=0)] = 0
    realisations: RealisationConfig = RealisationConfig()
    # chance that an episode has one extra site outage (random site, start, 2–10 h), to train
    # policies that cope with failures; evaluation keeps the scenario's own events only
    random_outage_probability: Annotated[float, Field(ge=0, le=1)] = 0.0
    reward: RewardWeights = RewardWeights()
    kpi: KpiConfig = KpiConfig()
    ret: RetConfig = RetConfig()
    per_cell: PerCellConfig = PerCellConfig()

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data: Any) -> Any:
        for name in ("load_iterations", "reset_load_iterations"):
            if isinstance(data, dict) and name in data:
                raise ValueError(
                    f"{name} was retired: loads now converge at every step (set "
                    "load.tolerance and load.max_iterations instead)"
                )
        return data

    @model_validator(mode="before")
    @classmethod
    def _excess_load_guarantee(cls, data: Any) -> Any:
        """`reward.excess_load = "guarantee"`: the weight from which moving demand into an
        overloaded cell never pays, for this config's other weights and admission load. It is
        a number once validated, so a later override of those weights does not move it."""
        if not isinstance(data, dict) or not isinstance(data.get("reward"), dict):
            return data
        reward: dict[str, Any] = data["reward"]
        value = reward.get("excess_load")
        if not isinstance(value, str):
            return data
        if value.strip() != EXCESS_LOAD_GUARANTEE:
            try:
                float(value)
            except ValueError:
                raise ValueError(
                    f"reward.excess_load = {value!r}: allowed a number or "
                    f"{EXCESS_LOAD_GUARANTEE!r}"
                ) from None
            return data
        others = {k: v for k, v in reward.items() if k != "excess_load"}
        try:
            admission = KpiConfig.model_validate(data.get("kpi", {})).admission_load
            weight = overload_guarantee_weight(RewardWeights(**others), admission)
        except ValidationError:
            weight = 0.0  # the other fields' own errors are what validation reports
        return {**data, "reward": {**reward, "excess_load": weight}}

    @model_validator(mode="after")
    def _decision_cadence(self) -> EnvConfig:
        every = self.ret.decision_minutes
        if every is not None and every % self.step_minutes != 0:
            raise ValueError(
                f"ret.decision_minutes = {every} must be a multiple of step_minutes = "
                f"{self.step_minutes} (decisions fall on the clock's steps)"
            )
        if every is not None and round(self.episode_hours * 60) % every != 0:
            raise ValueError(
                f"episode_hours = {self.episode_hours:g} must be a whole number of "
                f"ret.decision_minutes = {every} (the episode ends on a decision)"
            )
        return self

    @property
    def ticks_per_decision(self) -> int:
        """Clock steps per env step (1 unless `ret.decision_minutes` is longer)."""
        every = self.ret.decision_minutes
        return 1 if every is None else every // self.step_minutes

    @model_validator(mode="after")
    def _tilt_range(self) -> EnvConfig:
        if self.tilt_max_deg <= self.tilt_min_deg:
            raise ValueError(
                f"tilt_max_deg = {self.tilt_max_deg} must be above tilt_min_deg = "
                f"{self.tilt_min_deg}"
            )
        return self

class Scenario(_Strict):
    """A whole scenario file."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    description: str = ""
    layout: Annotated[
        Annotated[HexLayoutConfig, Tag("hex")]
        | Annotated[CsvLayoutConfig, Tag("csv")]
        | Annotated[SitesLayoutConfig, Tag("sites")],
        Discriminator(_layout_type),
    ] = HexLayoutConfig()
    radio: RadioConfig = RadioConfig()
    pathloss: PathlossConfig
    antenna: AntennaConfig = AntennaConfig()
    shadowing: ShadowingConfig = ShadowingConfig()
    calibration: CalibrationConfig | None = None
    area: AreaConfig = AreaConfig()
    demand: DemandConfig = DemandConfig()
    events: list[Event] = []
    env: EnvConfig = EnvConfig()
    #: the file it came from, for messages and relative paths inside it (not part of the schema)
    source_file: Annotated[str | None, Field(exclude=True)] = None

    @model_validator(mode="after")
    def _outage_sites_exist(self) -> Scenario:
        """A hex layout knows its sites here; a CSV layout's are checked once it is read
        (`check_event_sites`, from the simulator and `cellsim scenarios validate`)."""
        if self.layout.type == "hex":
            problem = _missing_site(self, self.layout.n_sites)
            if problem:
                raise ValueError(problem)
        return self

    @property
    def source_dir(self) -> str | None:
        return None if self.source_file is None else str(Path(self.source_file).parent)

    @property
    def origin(self) -> str:
        """How error messages name this scenario: its file, else its name."""
        return self.source_file or f"scenario {self.name!r}"


def _missing_site(scenario: Scenario, n_sites: int) -> str | None:
    """What is wrong with the first outage naming a site the layout does not have, if any."""
    for i, event in enumerate(scenario.events):
        if event.kind == "outage" and event.site >= n_sites:
            return (
                f"events[{i}].site = {event.site}: no such site; allowed 0 to {n_sites - 1} "
                f"(the layout has {n_sites} sites)"
            )
    return None


def check_event_sites(scenario: Scenario, n_sites: int) -> None:
    """Refuse an outage of a site the built layout does not have (CSV layouts are only known
    once their file is read)."""
    problem = _missing_site(scenario, n_sites)
    if problem:
        raise ScenarioError(f"{scenario.origin}: {problem}")


#: What `extends` may name.
EXTENDS_ALLOWED = (
    "a built-in scenario name, a name in $CELLSIM_SCENARIO_PATH, or a .toml path relative to "
    "this file"
)


def json_schema() -> dict[str, Any]:
    """JSON Schema of scenario files, for editors (with `extends`, which loading resolves)."""
    schema = Scenario.model_json_schema()
    props = schema["properties"]
    props.pop("source_file", None)
    help_text = f"The scenario this file is deep-merged over: {EXTENDS_ALLOWED}."
    extends = {"extends": {"type": "string", "title": "Extends", "description": help_text}}
    schema["properties"] = {
        **{k: props[k] for k in ("name", "description") if k in props},
        **extends,
        **{k: v for k, v in props.items() if k not in ("name", "description")},
    }
    return schema


# -- errors -----------------------------------------------------------------------------------


def _is_tag(loc: tuple[Any, ...], i: int) -> bool:
    """Whether loc[i] is the tag of a discriminated union (`layout.hex`, `events[0].outage`):
    pydantic puts it in the location, the user never wrote it."""
    tags = _TAGGED.get(loc[0]) if loc else None
    if tags is None or i == 0 or loc[i] not in tags:
        return False
    return loc[i - 1] == loc[0] or (i == 2 and isinstance(loc[1], int))


def _field_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for i, p in enumerate(loc):
        if isinstance(p, int):
            parts.append(f"[{p}]")
        elif _is_tag(loc, i):
            continue
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts)


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Keys allowed at `loc` (the parent of an unknown key), for 'did you mean'."""
    current: Any = model
    for i, p in enumerate(loc):
        if isinstance(p, int) or current is None:
            continue
        fields = getattr(current, "model_fields", {})
        if p in fields:
            ann = fields[p].annotation
            current = _first_model(ann)
        elif _is_tag(loc, i):
            current = _TAGGED[loc[0]][p]
    keys = [k for k in getattr(current, "model_fields", {}) if k != "source_file"]
    if current is Scenario:  # resolved while loading, so not a field of the model
        keys.insert(keys.index("description") + 1, "extends")
    return keys


def _first_model(ann: Any) -> Any:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()):
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def format_validation_error(source: str, exc: ValidationError, model: type[BaseModel]) -> str:
    """One line per problem: `file: field.path = value: what is allowed`."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = _field_path(loc)
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            msg = f"unknown key {path!r}"
            msg += f" (did you mean {hint[0]!r}?)" if hint else ""
            msg += f"; allowed here: {', '.join(allowed)}"
        elif err["type"] == "union_tag_invalid":
            ctx = err.get("ctx", {})
            key = _TAG_KEY.get(str(loc[0]), "type")
            msg = f"{path}.{key} = {ctx.get('tag')!r}: allowed {ctx.get('expected_tags')}"
        elif err["type"] == "missing":
            msg = f"{path} is missing: it is required"
        elif not path or isinstance(err.get("input"), dict):  # a check across several fields
            msg = f"{path + ': ' if path else ''}{err['msg'].removeprefix('Value error, ')}"
        else:
            shown = json.dumps(err.get("input"), default=str)
            msg = f"{path} = {shown}: {err['msg']}"
        lines.append(f"{source}: {msg}")
    return lines[0] if len(lines) == 1 else lines[0] + f" (and {len(lines) - 1} more problem(s))"


# -- loading ----------------------------------------------------------------------------------


def _builtin_root() -> Path:
    return Path(str(importlib.resources.files("cellsim.scenarios")))


SCENARIO_PATH_ENV = "CELLSIM_SCENARIO_PATH"


def builtin_scenarios() -> dict[str, Path]:
    """Name → file of every built-in scenario (calibration set-ups included)."""
    return {path.stem: path for path in sorted(_builtin_root().rglob("*.toml"))}


def user_scenarios() -> dict[str, Path]:
    """Name → file of the scenarios in the folders of $CELLSIM_SCENARIO_PATH (first wins)."""
    found: dict[str, Path] = {}
    for folder in os.environ.get(SCENARIO_PATH_ENV, "").split(os.pathsep):
        if folder and Path(folder).is_dir():
            for path in sorted(Path(folder).glob("*.toml")):
                found.setdefault(path.stem, path)
    return found


def available_scenarios() -> dict[str, Path]:
    """Every scenario a name can refer to: the user's folders shadow the built-ins."""
    return {**builtin_scenarios(), **user_scenarios()}


class _CycleError(ScenarioError):
    """A chain of `extends` that comes back to a file: reported once, where it closes."""


#: Fields that hold a path relative to the file that wrote them: a parent's are made absolute
#: before the merge, so they keep pointing next to the parent whoever extends it.
_PATH_FIELDS = (
    ("layout", "file"),
    ("layout", "antenna_dir"),
    ("area", "file"),
    ("area", "exclusions_file"),
    ("demand", "hotspots_file"),
)
#: Tables whose selector picks the other keys' meaning: a child that gives another selector
#: replaces the parent's table instead of merging into it (selector, its default).
_SELECTORS = {
    "layout": ("type", "hex"),
    "pathloss": ("model", None),
    "antenna": ("kind", "tr36814"),
}
#: Keys a child never inherits: every file names and describes itself.
_OWN_KEYS = ("name", "description")


def _read_toml(path: Path) -> dict[str, Any]:
    text = read_user_file(path, "scenario file", ScenarioError)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: invalid TOML: {exc}") from None


def _merge(parent: dict[str, Any], child: dict[str, Any], top: bool = False) -> dict[str, Any]:
    """`child` deep-merged over `parent`: tables merge key by key; anything else, arrays
    included, is replaced whole by the child's."""
    out = dict(parent)
    for key, value in child.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            key_default = _SELECTORS.get(key) if top else None
            if key_default and key_default[0] in value and value[key_default[0]] != old.get(
                *key_default
            ):
                out[key] = value
            else:
                out[key] = _merge(old, value)
        else:
            out[key] = value
    return out


def _absolute_paths(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """`data` with its relative path fields made relative to `folder` (a copy where changed)."""
    data = dict(data)
    for table, key in _PATH_FIELDS:
        section = data.get(table)
        if isinstance(section, dict) and isinstance(section.get(key), str):
            written = section[key]
            if written and not Path(written).is_absolute():
                data[table] = {**section, key: str(folder / written)}
    return data


def _is_builtin(path: Path) -> bool:
    return path.resolve().is_relative_to(_builtin_root().resolve())


def _find_parent(ref: str, source: str, folder: Path, child: Path | None) -> Path:
    """The file `extends = ref` names. Paths are relative to the child's folder; names are
    looked up as `load_scenario` does, except that a built-in extends built-ins only (so the
    user's folders never change a built-in) and a file never finds itself (a user's hex7.toml
    may extend the built-in hex7)."""
    if ref.endswith(".toml") or "/" in ref or os.sep in ref:
        path = folder / Path(ref).expanduser()
        if path.is_file():
            return path
        raise ScenarioError(
            f"{source}: extends = {ref!r}: no such file {path}; allowed: {EXTENDS_ALLOWED}"
        )
    builtin = child is not None and _is_builtin(child)
    tables = [builtin_scenarios()] if builtin else [user_scenarios(), builtin_scenarios()]
    for table in tables:
        found = table.get(ref)
        if found is not None and (child is None or found.resolve() != child):
            return found
    known = sorted({name for table in tables for name in table})
    hint = difflib.get_close_matches(ref, known, n=1)
    more = f" (did you mean {hint[0]!r}?)" if hint else ""
    where = "built-in scenario" if builtin else f"scenario (built-in or in ${SCENARIO_PATH_ENV})"
    raise ScenarioError(
        f"{source}: extends = {ref!r}: no {where} of that name{more}; allowed: a .toml path "
        f"relative to this file or one of: {', '.join(known)}"
    )


def _resolve_extends(
    data: dict[str, Any], source: str, folder: Path, chain: tuple[Path, ...]
) -> dict[str, Any]:
    """The raw dict of a file with its `extends` chain merged in (parents first). Each parent
    must be a valid scenario itself; its problems are the child's `extends` problem.
    `chain`: the resolved files already on the way here, the child's last."""
    if "extends" not in data:
        return data
    data = dict(data)
    ref = data.pop("extends")
    if not isinstance(ref, str) or not ref.strip():
        shown = json.dumps(ref, default=str)
        raise ScenarioError(f"{source}: extends = {shown}: allowed: {EXTENDS_ALLOWED}")
    path = _find_parent(ref, source, folder, chain[-1] if chain else None)
    resolved = path.resolve()
    if resolved in chain:
        loop = " → ".join(p.name for p in (*chain[chain.index(resolved) :], resolved))
        raise _CycleError(
            f"{source}: extends = {ref!r}: a cycle ({loop}); allowed: a chain of parents that "
            "ends in a scenario without extends"
        )
    try:
        parent = _resolve_extends(_read_toml(path), str(path), path.parent, (*chain, resolved))
        _validated(parent, str(path), str(path))
    except _CycleError:
        raise
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: extends = {ref!r}: the parent is invalid: {exc}") from None
    parent = {k: v for k, v in _absolute_paths(parent, path.parent).items() if k not in _OWN_KEYS}
    return _merge(parent, data, top=True)


def _validated(data: dict[str, Any], source: str, source_file: str | None) -> Scenario:
    try:
        return Scenario.model_validate({**data, "source_file": source_file})
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(source, exc, Scenario)) from None


def parse_scenario(data: dict[str, Any], source: str, source_file: str | None = None) -> Scenario:
    """A scenario from a dict in the file layout; `extends` is resolved relative to
    `source_file`'s folder (the working directory without one)."""
    if isinstance(data, dict) and "extends" in data:
        where = Path(source_file) if source_file else None
        folder = where.parent if where else Path.cwd()
        data = _resolve_extends(data, source, folder, (where.resolve(),) if where else ())
    return _validated(data, source, source_file)


def load_scenario_file(path: str | Path) -> Scenario:
    path = Path(path)
    return parse_scenario(_read_toml(path), str(path), str(path))


def load_scenario_factory(spec: str) -> Scenario:
    """A scenario built by a Python function, "package.module:function" (returns a Scenario or a
    dict in the file layout)."""
    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ScenarioError(
            f"scenario factory {spec!r}: cannot import: {exc}; expected 'package.module:function'"
        ) from None
    if not inspect.isfunction(factory):  # not builtins (os.system), classes or other callables
        raise ScenarioError(
            f"scenario factory {spec!r} is a {type(factory).__name__}, not a Python function "
            "defined in your own module"
        )
    top = (getattr(factory, "__module__", "") or "").partition(".")[0]
    if top in sys.stdlib_module_names:
        raise ScenarioError(f"scenario factory {spec!r}: a function of Python's standard "
                            f"library ({top}), not a scenario factory of your own module")
    result = factory()
    if isinstance(result, Scenario):
        return result
    if isinstance(result, dict):
        return parse_scenario(result, f"scenario factory {spec!r}")
    raise ScenarioError(
        f"scenario factory {spec!r} returned {type(result).__name__}: allowed Scenario or dict"
    )


def load_scenario(name_or_path: str | Path | Scenario) -> Scenario:
    """A scenario by built-in name, by name in $CELLSIM_SCENARIO_PATH, by file path, or by
    Python factory "package.module:function"."""
    if isinstance(name_or_path, Scenario):
        return name_or_path
    text = str(name_or_path)
    if text.endswith(".toml") or os.sep in text or Path(text).is_file():
        return load_scenario_file(text)
    if ":" in text:
        return load_scenario_factory(text)
    known = available_scenarios()
    if text in known:
        return load_scenario_file(known[text])
    hint = difflib.get_close_matches(text, list(known), n=1)
    more = f" (did you mean {hint[0]!r}?)" if hint else ""
    raise ScenarioError(
        f"scenario {text!r} not found{more}: give a file path, a 'module:function' factory, "
        f"a name in ${SCENARIO_PATH_ENV}, or one of: {', '.join(known)}"
    )


def resolve_path(scenario: Scenario, relative: str) -> Path:
    """A path written inside a scenario file, relative to that file."""
    base = Path(scenario.source_dir) if scenario.source_dir else Path.cwd()
    return (base / relative).resolve()


__all__ = [
    "PERCENTILES",
    "CellsimError",
    "Scenario",
    "builtin_scenarios",
    "json_schema",
    "load_scenario",
    "load_scenario_file",
    "parse_scenario",
    "resolve_path",
]
