"""A small geo-referenced network for tests: four three-sector sites in Toulouse (real
coordinates around the Capitole, WGS84) on one or two carriers, with pattern files generated
from the TR 38.901 8-element array at electrical tilts 0, 2, …, 12° (cellsim writes them)."""

from __future__ import annotations

from pathlib import Path

from cellsim.formats.msi import write_pattern_folder
from cellsim.radio.antenna import Tr38901Array

#: (site, lat_deg, lon_deg, height_m): about 1 km apart.
SITES = (
    ("TLS001", 43.6045, 1.4440, 30.0),
    ("TLS002", 43.6110, 1.4560, 28.0),
    ("TLS003", 43.5985, 1.4580, 32.0),
    ("TLS004", 43.6000, 1.4330, 25.0),
)
BEARINGS_DEG = (0.0, 120.0, 240.0)
HEADER = (
    "site,cell,lat_deg,lon_deg,height_m,azimuth_deg,mech_tilt_deg,tilt_deg,ret_min_deg,"
    "ret_max_deg,frequency_mhz,bandwidth_mhz,tx_power_dbm,antenna"
)
ANTENNA = "ARRAY8_3500"
PATTERN_TILTS_DEG = tuple(range(0, 13, 2))
SOURCE = Tr38901Array(n_elements=8)


def site_rows(carriers=((3500.0, 20.0),), antenna: str = ANTENNA) -> list[str]:
    """CSV lines (no header) of every site × sector × carrier."""
    rows = []
    for site, lat, lon, h in SITES:
        for freq, bw in carriers:
            for k, bearing in enumerate(BEARINGS_DEG):
                cell = f"{site}_{freq:.0f}_{k + 1}"
                rows.append(
                    f"{site},{cell},{lat},{lon},{h},{bearing},2,6,0,12,{freq:g},{bw:g},46,{antenna}"
                )
    return rows


def write_network(folder: Path, carriers=((3500.0, 20.0),), n_prb: int = 100) -> Path:
    """sites.csv, antennas/ARRAY8_3500/*.msi and net.toml in `folder`; returns the scenario."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sites.csv").write_text(
        "\n".join([HEADER, *site_rows(carriers)]) + "\n", encoding="utf-8"
    )
    write_pattern_folder(
        folder / "antennas" / ANTENNA,
        SOURCE,
        PATTERN_TILTS_DEG,
        name=ANTENNA,
        frequency_mhz=3500.0,
    )
    path = folder / "net.toml"
    path.write_text(
        'name = "toulouse"\n'
        'description = "four sites in Toulouse (test fixture)"\n'
        '[layout]\ntype = "sites"\nfile = "sites.csv"\n'
        f"[radio]\nn_prb = {n_prb}\n"
        '[pathloss]\nmodel = "uma"\n'
        "[area]\nresolution_m = 100\nmargin_m = 300\n",
        encoding="utf-8",
    )
    return path
