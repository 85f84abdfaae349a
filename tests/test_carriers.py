"""Several carriers per site (issue 17 item 3): each carrier its own interference domain and
load, the demand split in proportion to capacity, KPIs per carrier and combined."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import cellsim  # noqa: F401  (registers cellsim/Tilt-v0)
from cellsim.kpi import SE_ALPHA, SE_MAX_BPS_HZ, SINR_MIN_SE_DB, combine_kpis, link_quality
from cellsim.scenario import load_scenario_file
from cellsim.simulator import Simulator, capacity_shares
from tests.geo_fixture import write_network

#: Two carriers of one band, so that one antenna folder serves both; different bandwidths.
CARRIERS = ((3500.0, 20.0), (3600.0, 10.0))
HOUR = 20.0  # the evening peak: loads well above idle


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    return write_network(tmp_path_factory.mktemp("carriers"), carriers=CARRIERS)


def _sim(path, carrier_mhz: float | None = None) -> Simulator:
    if carrier_mhz is not None:
        text = path.read_text()
        path = path.parent / f"only_{carrier_mhz:.0f}.toml"
        n_prb = {3500.0: 100, 3600.0: 50}[carrier_mhz]
        named = f'file = "sites.csv"\ncarrier_mhz = {carrier_mhz}'
        text = text.replace('file = "sites.csv"', named)
        path.write_text(text.replace("n_prb = 100", f"n_prb = {n_prb}"))
    scenario = load_scenario_file(path)
    return Simulator(scenario, scenario.env)


@pytest.fixture(scope="module")
def two(network):
    sim = _sim(network)
    users = sim.users_at(HOUR) * 2.5  # loads of 0.7 at most: loaded, not overloaded
    return sim, users, sim.step(sim.layout.cells.tilt_deg, HOUR, users)


def test_each_carrier_is_simulated_as_if_alone(network, two):
    """No cross-carrier interference: a carrier's SINR is that of its cells simulated alone
    (`layout.carrier_mhz`) with the demand it carries."""
    sim, _, result = two
    assert [c.frequency_mhz for c in result.carriers] == [3500.0, 3600.0]
    for carrier, part in zip(sim.carriers, result.carriers, strict=True):
        alone = _sim(network, carrier.frequency_mhz)
        own = alone.step(alone.layout.cells.tilt_deg, HOUR, part.users)
        served = own.state.serving_mw > 0
        np.testing.assert_array_equal(
            carrier.cells[own.state.serving_cell[served]], part.state.serving_cell[served]
        )
        np.testing.assert_allclose(part.state.sinr_db[served], own.state.sinr_db[served],
                                   atol=0.05)  # fmt: skip  (loads solved to load.tolerance)
        # at full load nothing is solved: the same numbers exactly
        tilts, ones = sim.layout.cells.tilt_deg, np.ones(sim.n_cells, np.float32)
        mine = sim.budget.evaluate(tilts, ones, np.isin(np.arange(sim.n_cells), carrier.cells))
        full = alone.budget.evaluate(alone.layout.cells.tilt_deg)
        np.testing.assert_array_equal(mine.serving_mw, full.serving_mw)
        np.testing.assert_array_equal(mine.interference_mw, full.interference_mw)
        np.testing.assert_allclose(part.kpis.cell_load[carrier.cells], own.kpis.cell_load,
                                   rtol=2e-3, atol=1e-4)  # fmt: skip
        assert part.kpis.cell_load[carrier.cells].max() > 0.1  # loaded, not at idle


def test_loads_per_carrier_by_hand(two):
    """ρ_c = Σ users · rate / (B · SE(SINR)) over the points c serves on its carrier."""
    sim, _, result = two
    rate = sim.scenario.demand.user_rate_mbps
    for k, part in enumerate(result.carriers):
        state = part.state
        sinr = state.serving_mw.astype(float) / (state.interference_mw + state.noise_mw)
        se = np.minimum(SE_ALPHA * np.log2(1.0 + sinr), SE_MAX_BPS_HZ)
        ok = (state.serving_mw > 0) & (10.0 * np.log10(sinr) >= SINR_MIN_SE_DB)
        bandwidth_mhz = sim.carriers[k].n_prb * 12 * 15e3 / 1e6
        demand = np.where(ok, part.users * rate / (bandwidth_mhz * np.where(ok, se, 1.0)), 0.0)
        by_hand = np.bincount(state.serving_cell, demand, minlength=sim.n_cells)
        np.testing.assert_allclose(part.kpis.cell_load, by_hand, rtol=1e-3, atol=1e-6)
        others = np.setdiff1d(np.arange(sim.n_cells), sim.carriers[k].cells)
        assert not by_hand[others].any()  # another carrier's cells carry none of it
        np.testing.assert_array_equal(result.kpis.cell_load[sim.carriers[k].cells],
                                      part.kpis.cell_load[sim.carriers[k].cells])  # fmt: skip


def test_capacity_split_rule():
    peak = np.array([[10.0, 0.0, 0.0], [30.0, 5.0, 0.0]])
    share = capacity_shares(peak, np.array([20.0, 10.0]))
    np.testing.assert_allclose(share, [[0.25, 0.0, 2 / 3], [0.75, 1.0, 1 / 3]], rtol=1e-6)


def test_split_is_the_capacity_share_at_the_solved_state(two):
    sim, users, result = two
    assert result.load_converged
    pairs = zip(result.carriers, sim.carrier_params, strict=True)
    peak = np.stack([link_quality(p.state, params.bandwidth_mhz)[1] for p, params in pairs])
    share = capacity_shares(peak, np.array([20.0, 10.0]))
    carried = np.stack([p.users for p in result.carriers])
    np.testing.assert_allclose(carried.sum(axis=0), users, rtol=1e-5)
    np.testing.assert_allclose(carried, users * share, atol=2e-3 * users.max())
    wide = share[0][users > 0]
    assert 0.5 < np.median(wide) < 0.8  # twice the bandwidth, not all of the demand


def test_combined_kpis_are_demand_weighted(two):
    _, users, result = two
    parts = [p.kpis for p in result.carriers]
    demand = np.array([p.total_users for p in parts])
    np.testing.assert_allclose(demand.sum(), users.sum(), rtol=1e-5)
    for name in ("coverage", "mean_rate_mbps", "unserved_share", "weak_coverage_share"):
        expected = sum(d * getattr(p, name) for d, p in zip(demand, parts, strict=True))
        assert getattr(result.kpis, name) == pytest.approx(expected / demand.sum(), rel=1e-9)
    lo, hi = sorted(p.p5_rate_mbps for p in parts)
    assert lo * 0.9 <= result.kpis.p5_rate_mbps <= hi * 1.1  # a mixture's percentile
    # a cell's served share is on the whole demand: averaging 1 over the network's cells
    assert result.kpis.cells()["served_share"].mean() == pytest.approx(1.0, rel=1e-4)


def test_combining_one_carrier_gives_its_own_kpis(network):
    """The combination's rules reproduce `compute_kpis` on one carrier (p5: within the
    kernel's histogram bin of 0.01 decade)."""
    sim = _sim(network, 3500.0)
    for factor in (1.0, 3.5):  # unloaded, then overloaded (demand blocked)
        users = sim.users_at(HOUR) * factor
        result = sim.step(sim.layout.cells.tilt_deg, HOUR, users)
        own = result.kpis
        cells = [np.ones(sim.n_cells, bool)]
        again = combine_kpis([own], users, np.ones((1, users.size), np.float32),
                             [result.state.serving_cell], np.zeros(users.size, np.intp), cells,
                             result.active, sim.kpi_params.admission_load)  # fmt: skip
        for name, value in own.network().items():
            rel = 0.024 if name == "p5_rate_mbps" else 1e-6
            assert again.network()[name] == pytest.approx(value, rel=rel, abs=1e-9), name
        np.testing.assert_allclose(again.cell, own.cell, rtol=1e-6)
    assert own.unserved_share > 0.01


def test_two_carrier_env_passes_check_env_and_is_deterministic(network):
    env = gym.make("cellsim/Tilt-v0", scenario=str(network))
    check_env(env.unwrapped, skip_render_check=True)
    runs = []
    for _ in range(2):
        env = gym.make("cellsim/Tilt-v0", scenario=str(network))
        obs, info = env.reset(seed=3)
        env.action_space.seed(0)
        action = env.action_space.sample()
        obs2, reward, *_, info2 = env.step(action)
        runs.append((obs, obs2, reward, info2))
        assert env.unwrapped.sim.n_cells == 24 and info["tilt_deg"].shape == (24,)
    (a0, a1, ra, ia), (b0, b1, rb, ib) = runs
    np.testing.assert_array_equal(a0, b0)
    np.testing.assert_array_equal(a1, b1)
    assert ra == rb and ia["kpis"] == ib["kpis"]
    assert set(ia["carrier_kpis"]) == {3500.0, 3600.0}
    assert ia["carrier_kpis"][3500.0]["coverage"] != ia["carrier_kpis"][3600.0]["coverage"]


def test_one_carrier_takes_the_one_carrier_path(network):
    sim = _sim(network, 3500.0)
    result = sim.step(sim.layout.cells.tilt_deg, HOUR)
    assert len(sim.carriers) == 1 and result.carriers == ()


def test_an_antenna_set_reads_each_models_own_pattern():
    """A link budget over cells of three models (two coordinate systems, different table
    steps) gives each cell the received power of its model's budget alone, exactly."""
    import dataclasses

    from cellsim.engine import LinkBudget
    from cellsim.network.build import build_layout, build_radio_setup
    from cellsim.network.receivers import Receivers
    from cellsim.radio.antenna import Tr36814Sector, Tr38901Array
    from cellsim.radio.antenna_set import AntennaSet
    from cellsim.scenario import load_scenario

    scenario = load_scenario("hex7")
    layout = build_layout(scenario)
    setup = build_radio_setup(scenario, layout)
    n = len(layout.cells)
    names = tuple("abc"[c % 3] for c in range(n))
    cells = dataclasses.replace(layout.cells, antenna=names, frequency_mhz=np.full(n, 2000.0))
    layout = dataclasses.replace(layout, cells=cells)
    models = (Tr38901Array(n_elements=8), Tr36814Sector(), Tr38901Array(n_elements=4))
    keys = (("a", 2000.0), ("b", 2000.0), ("c", 2000.0))
    antenna_set = AntennaSet(keys, models)
    np.testing.assert_array_equal(antenna_set.cell_models(names, cells.frequency_mhz)[:4],
                                  [0, 1, 2, 0])  # fmt: skip
    rng = np.random.default_rng(0)
    points = Receivers.outdoor(rng.uniform(-600, 600, (500, 2)), 1.5)
    from cellsim.engine import draw_link_state

    links = draw_link_state(np.random.default_rng(1), layout, points, setup)
    mixed = LinkBudget(layout, points, dataclasses.replace(setup, antenna=antenna_set), links)
    tilts = rng.uniform(0.0, 12.0, n)
    mixed.evaluate(tilts)
    for m, model in enumerate(models):
        alone = LinkBudget(layout, points, dataclasses.replace(setup, antenna=model), links)
        alone.evaluate(tilts)
        rows = np.arange(n) % 3 == m
        np.testing.assert_array_equal(mixed.received_mw[rows], alone.received_mw[rows])


def test_a_dual_band_folder_gives_each_carrier_its_band(tmp_path):
    """Cells of two carriers naming one dual-band folder: each carrier's fold is that of its
    cells simulated alone with that band's patterns (no cross-carrier interference either)."""
    from cellsim.formats.msi import write_pattern_folder
    from cellsim.radio.antenna import Tr38901Array
    from cellsim.radio.antenna_set import AntennaSet
    from tests.geo_fixture import ANTENNA, PATTERN_TILTS_DEG

    net = write_network(tmp_path / "dual", carriers=((3500.0, 20.0), (1800.0, 10.0)))
    write_pattern_folder(net.parent / "antennas" / ANTENNA, Tr38901Array(n_elements=4),
                         list(PATTERN_TILTS_DEG), name=ANTENNA, frequency_mhz=1800.0)  # fmt: skip
    sim = _sim(net)
    assert isinstance(sim.setup.antenna, AntennaSet) and len(sim.setup.antenna.models) == 2
    ones = np.ones(sim.n_cells, np.float32)
    for carrier in sim.carriers:
        prb = carrier.n_prb
        text = net.read_text().replace('file = "sites.csv"', 'file = "sites.csv"\n'
                                       f"carrier_mhz = {carrier.frequency_mhz}")  # fmt: skip
        alone_path = net.parent / f"alone_{carrier.frequency_mhz:.0f}.toml"
        alone_path.write_text(text.replace("n_prb = 100", f"n_prb = {prb}"))
        alone = _sim(alone_path)
        on = np.isin(np.arange(sim.n_cells), carrier.cells)
        mine = sim.budget.evaluate(sim.layout.cells.tilt_deg, ones, on)
        full = alone.budget.evaluate(alone.layout.cells.tilt_deg)
        np.testing.assert_allclose(mine.serving_mw, full.serving_mw, rtol=1e-6)
        np.testing.assert_allclose(mine.interference_mw, full.interference_mw, rtol=1e-5)
    result = sim.step(sim.layout.cells.tilt_deg, HOUR)
    assert result.load_converged and len(result.carriers) == 2


def test_maps_draw_one_carrier_or_the_network_combined(network, tmp_path):
    """`cellsim map --carrier MHZ`: that carrier's own radio state, KPIs and demand; the
    network's combined map without it; an unknown carrier is one line naming the carriers."""
    from cellsim.cli import main
    from cellsim.errors import CellsimError
    from cellsim.viz.maps import evaluate_plan, kind_values

    sim = _sim(network)
    tilts = sim.layout.cells.tilt_deg
    combined = evaluate_plan(sim, tilts, HOUR)
    per_carrier = [evaluate_plan(sim, tilts, HOUR, mhz) for mhz, _ in CARRIERS]
    for view, part in zip(per_carrier, combined.carriers, strict=True):
        np.testing.assert_array_equal(view.kpis.sinr_db, part.kpis.sinr_db)
        assert view.kpis.network() == part.kpis.network()
    # each carrier's servers are its own cells, and the demand maps add up to the network's
    for (mhz, _), view in zip(CARRIERS, per_carrier, strict=True):
        mine = sim.layout.cells.frequency_mhz[view.state.serving_cell[: sim.raster.n_points]]
        assert np.all(mine == mhz)
    demand = [kind_values(sim, r, HOUR, "demand") for r in (combined, *per_carrier)]
    np.testing.assert_allclose(demand[1] + demand[2], demand[0], rtol=1e-5, atol=1e-9)
    with pytest.raises(CellsimError, match="3500, 3600") as err:
        evaluate_plan(sim, tilts, HOUR, 2100.0)
    assert "\n" not in str(err.value)
    out = tmp_path / "map.png"
    assert main(["map", "--scenario", str(network), "--carrier", "3600", "--out", str(out)]) in (
        0, None)  # fmt: skip
    assert out.stat().st_size > 10_000
