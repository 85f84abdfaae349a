"""From a validated scenario to the objects the engine works on: layout and radio set-up."""

from __future__ import annotations

import numpy as np

from cellsim.engine import RadioSetup
from cellsim.errors import ParameterError, ScenarioError
from cellsim.network.layout import Layout, csv_layout, hex_layout
from cellsim.network.sites import Carrier
from cellsim.radio.antenna import make_antenna
from cellsim.radio.noise import noise_per_re_dbm, power_per_re_dbm
from cellsim.radio.pathloss import make_pathloss
from cellsim.scenario import Scenario, resolve_path

#: Where each path-loss parameter lives in a scenario file, for error messages.
_PARAM_FIELD = {
    "fc_ghz": "radio.fc_ghz",
    "h_bs_m": "layout.height_m",
    "h_ut_m": "receiver height",
    "model": "pathloss.model",
}
#: The same for the parameters a site database gives.
_SITES_FIELD = {
    "fc_ghz": "the site database's carrier (frequency_mhz / 1000, GHz)",
    "h_bs_m": "the site database's height_m",
}


#: Closest sites a hexagonal scenario may have (a small cell's ISD is some 50 m).
MIN_ISD_M = 10.0


def build_layout(scenario: Scenario) -> Layout:
    cfg = scenario.layout
    if cfg.type == "sites":
        from cellsim.network.sites import load_site_database

        return load_site_database(scenario)
    if cfg.type == "csv":
        try:
            return csv_layout(resolve_path(scenario, cfg.file))
        except ValueError as exc:  # a path the OS cannot represent (e.g. a NUL byte)
            raise ScenarioError(f"{scenario.origin}: layout.file = {cfg.file!r}: {exc}") from None
        except ScenarioError as exc:
            raise ScenarioError(f"{scenario.origin}: layout.file = {cfg.file!r}: {exc}") from None
    if not cfg.isd_m >= MIN_ISD_M:
        raise ScenarioError(f"{scenario.origin}: layout.isd_m = {cfg.isd_m:g}: allowed ≥ "
                            f"{MIN_ISD_M:g} m (sites closer than a small cell's spacing)")
    return hex_layout(
        cfg.n_sites, cfg.isd_m, cfg.height_m, cfg.tilt_deg, cfg.mech_tilt_deg, cfg.wraparound
    )


def build_carriers(scenario: Scenario, layout: Layout) -> list[Carrier]:
    """The carriers of a network, lowest frequency first: a site database's own
    (`cellsim.network.sites.site_carriers`), else one of radio.fc_ghz and radio.n_prb."""
    if scenario.layout.type == "sites":
        from cellsim.network.sites import site_carriers

        return site_carriers(scenario, layout)
    radio = scenario.radio
    return [Carrier(radio.fc_ghz * 1000.0, radio.n_prb, np.arange(len(layout.cells)))]


def build_radio_setup(
    scenario: Scenario, layout: Layout, tx_power_dbm: float | None = None
) -> RadioSetup:
    """Path-loss model, antenna and powers; checks the models' validity against the layout.

    `tx_power_dbm` overrides the scenario's (calibration uses 0 dBm per resource element, so
    received power is the coupling gain).
    """
    where = scenario.origin
    try:
        pathloss = make_pathloss(scenario.pathloss.model, **scenario.pathloss.params())
    except ParameterError as exc:
        raise ScenarioError(f"{where}: pathloss.{exc}") from None
    radio = scenario.radio
    fc_ghz = radio.fc_ghz
    n = len(layout.cells)
    carriers = [Carrier(fc_ghz * 1000.0, radio.n_prb, np.arange(n))]
    if scenario.layout.type == "sites":  # carriers, powers and antennas come from the database
        from cellsim.network.sites import site_antenna

        carriers = build_carriers(scenario, layout)
        fc_ghz = carriers[0].frequency_mhz / 1000.0  # shadowing's σ (of the lowest carrier)
        antenna = site_antenna(scenario, layout)
    else:
        try:
            antenna = make_antenna(scenario.antenna.kind, **scenario.antenna.params())
        except ParameterError as exc:
            raise ScenarioError(f"{where}: {exc}") from None
    heights = np.unique(layout.cells.height_m)
    freqs_mhz = layout.cells.frequency_mhz
    try:  # the path loss runs at each cell's own frequency (site databases) or radio.fc_ghz
        for f_ghz in [fc_ghz] if freqs_mhz is None else np.unique(freqs_mhz) / 1000.0:
            pathloss.validate(1.0, heights, 1.5, float(f_ghz), strict=False)
    except ParameterError as exc:
        fields = _SITES_FIELD if scenario.layout.type == "sites" else _PARAM_FIELD
        field = fields.get(exc.name, _PARAM_FIELD.get(exc.name, exc.name))
        raise ScenarioError(
            f"{where}: {field}={exc.value!r} with pathloss.model="
            f"{pathloss.name!r} is out of range: allowed {exc.allowed}"
        ) from None
    if tx_power_dbm is not None:
        power = np.full(n, float(tx_power_dbm))
    elif layout.cells.tx_power_dbm is not None:  # over each cell's own carrier bandwidth
        power = np.empty(n)
        for carrier in carriers:
            cell_dbm = layout.cells.tx_power_dbm[carrier.cells]
            power[carrier.cells] = power_per_re_dbm(cell_dbm, carrier.n_prb)
    else:
        power = np.full(n, power_per_re_dbm(radio.tx_power_dbm, radio.n_prb))
    return RadioSetup(
        pathloss=pathloss,
        antenna=antenna,
        fc_ghz=fc_ghz,
        tx_power_per_re_dbm=power,
        noise_per_re_dbm=noise_per_re_dbm(radio.noise_figure_db),
        shadowing=scenario.shadowing.enabled,
        inter_site_correlation=scenario.shadowing.inter_site_correlation,
        indoor_shadow_std_db=scenario.shadowing.indoor_std_db,
    )
