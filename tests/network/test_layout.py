"""Hexagonal layouts, wrap-around images, hexagon membership and CSV site lists.

Every expectation is derived from the lattice geometry (a1 = (ISD, 0), a2 = ISD·(1/2, √3/2)),
brute-force searches written here, or Monte Carlo estimates with a stated tolerance.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from cellsim.errors import ParameterError, ScenarioError
from cellsim.network.layout import (
    csv_layout,
    hex_layout,
    hex_site_positions,
    hexagon_contains,
    wrap_shifts,
)

ISD = 500.0
SQRT3 = math.sqrt(3.0)


def _axial(xy: np.ndarray, isd: float) -> np.ndarray:
    """Coordinates (i, j) of points in the basis a1 = (isd, 0), a2 = isd·(1/2, √3/2)."""
    j = xy[..., 1] / (isd * SQRT3 / 2.0)
    i = xy[..., 0] / isd - j / 2.0
    return np.stack([i, j], axis=-1)


def _angles_deg(xy: np.ndarray) -> np.ndarray:
    return np.mod(np.degrees(np.arctan2(xy[:, 1], xy[:, 0])), 360.0)


def _same_angle_set(actual_deg: np.ndarray, expected_deg) -> bool:
    """Whether two sets of directions agree (order-free, modulo 360°, to 1e-6°)."""
    a = np.sort(np.mod(np.round(actual_deg, 6), 360.0))
    e = np.sort(np.mod(np.asarray(expected_deg, float), 360.0))
    return a.shape == e.shape and np.allclose(a, e, atol=1e-6)


# --------------------------------------------------------------------------- site positions


@pytest.mark.parametrize("isd", [1.0, 500.0, 1732.0])
def test_single_site_is_the_origin(isd):
    np.testing.assert_array_equal(hex_site_positions(1, isd), [[0.0, 0.0]])


@pytest.mark.parametrize("isd", [200.0, 500.0])
def test_seven_site_ring(isd):
    sites = hex_site_positions(7, isd)
    assert sites.shape == (7, 2)
    np.testing.assert_allclose(sites[0], [0.0, 0.0], atol=1e-9)
    ring = sites[1:]
    np.testing.assert_allclose(np.hypot(ring[:, 0], ring[:, 1]), isd, rtol=1e-12)
    # first ring: the six neighbours a1, a2, ... along 0°, 60°, ..., 300°
    assert _same_angle_set(_angles_deg(ring), [0, 60, 120, 180, 240, 300])


@pytest.mark.parametrize("isd", [200.0, 500.0])
def test_nineteen_site_rings(isd):
    sites = hex_site_positions(19, isd)
    assert sites.shape == (19, 2)
    np.testing.assert_allclose(sites[0], [0.0, 0.0], atol=1e-9)
    r = np.hypot(sites[:, 0], sites[:, 1])
    expected = np.sort([0.0] + [isd] * 6 + [SQRT3 * isd] * 6 + [2.0 * isd] * 6)
    np.testing.assert_allclose(np.sort(r), expected, rtol=1e-12, atol=1e-9)
    # the √3·ISD sites sit between two first-ring sites (30°, 90°, ...), the 2·ISD ones behind
    # them (0°, 60°, ...)
    mid = sites[np.isclose(r, SQRT3 * isd)]
    far = sites[np.isclose(r, 2.0 * isd)]
    assert _same_angle_set(_angles_deg(mid), [30, 90, 150, 210, 270, 330])
    assert _same_angle_set(_angles_deg(far), [0, 60, 120, 180, 240, 300])
    # the 7-site layout is the inner part of the 19-site one, centre and first ring first
    np.testing.assert_allclose(sites[:7], hex_site_positions(7, isd), atol=1e-9)


@pytest.mark.parametrize("n", [7, 19])
def test_sites_are_distinct_lattice_points_isd_apart(n):
    sites = hex_site_positions(n, ISD)
    ij = _axial(sites, ISD)
    np.testing.assert_allclose(ij, np.round(ij), atol=1e-9)
    d = np.hypot(*(sites[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
    off_diag = d[~np.eye(n, dtype=bool)]
    assert off_diag.min() == pytest.approx(ISD, rel=1e-12)
    # every site has 6 neighbours at ISD except where the network ends; the centre has all 6
    assert np.sum(np.isclose(d[0], ISD)) == 6


@pytest.mark.parametrize("n, isd", [(2, 500.0), (3, 500.0), (36, 500.0), (7, 0.0), (7, -1.0)])
def test_hex_site_positions_rejects_bad_input(n, isd):
    with pytest.raises(ParameterError):
        hex_site_positions(n, isd)


def test_hex_site_positions_rejects_nan_isd():
    with pytest.raises(ParameterError):
        hex_site_positions(7, float("nan"))


# --------------------------------------------------------------------------- cells / sectors


@pytest.mark.parametrize("n", [1, 7, 19])
def test_three_sectors_per_site(n):
    lay = hex_layout(n, ISD, 25.0, 8.0, mech_tilt_deg=2.0)
    cells = lay.cells
    assert len(cells) == 3 * n
    assert lay.n_sites == n
    np.testing.assert_array_equal(np.bincount(cells.site, minlength=n), np.full(n, 3))
    sites = hex_site_positions(n, ISD)
    np.testing.assert_allclose(np.c_[cells.x_m, cells.y_m], sites[cells.site])
    for s in range(n):
        az = cells.azimuth_deg[cells.site == s]
        assert _same_angle_set(az, [30.0, 150.0, 270.0])
    np.testing.assert_array_equal(cells.height_m, 25.0)
    np.testing.assert_array_equal(cells.tilt_deg, 8.0)
    np.testing.assert_array_equal(cells.mech_tilt_deg, 2.0)
    assert len(set(cells.name)) == 3 * n
    assert lay.isd_m == ISD


def test_hex_layout_rejects_bad_height():
    for h in (0.0, -5.0, float("nan")):
        with pytest.raises(ParameterError):
            hex_layout(7, ISD, h, 8.0)


def test_sector_boresights_point_at_hexagon_vertices():
    """The hexagon of a site has vertices at 30°, 90°, ...: each sector boresight (30°, 150°,
    270°) points at a vertex, so a point just inside along a boresight is inside the hexagon
    while a point at the same distance along the flat-side normal (0°) is outside."""
    r = ISD / SQRT3
    for az in (30.0, 150.0, 270.0):
        p = 0.99 * r * np.array([[math.cos(math.radians(az)), math.sin(math.radians(az))]])
        assert hexagon_contains(p, np.zeros(2), r)[0]
    assert not hexagon_contains(np.array([[0.99 * r, 0.0]]), np.zeros(2), r)[0]


# --------------------------------------------------------------------------- wrap-around shifts


@pytest.mark.parametrize("n", [7, 19])
def test_wrap_shifts_length_and_symmetry(n):
    shifts = wrap_shifts(n, ISD, True)
    assert shifts.shape == (7, 2)
    np.testing.assert_array_equal(shifts[0], [0.0, 0.0])
    lengths = np.hypot(shifts[1:, 0], shifts[1:, 1])
    np.testing.assert_allclose(lengths, math.sqrt(n) * ISD, rtol=1e-12)
    # six directions 60° apart, summing to zero (a hexagonal super-lattice)
    ang = np.sort(_angles_deg(shifts[1:]))
    np.testing.assert_allclose(np.diff(ang), 60.0, atol=1e-9)
    np.testing.assert_allclose(shifts[1:].sum(axis=0), 0.0, atol=1e-6)
    # shifts are lattice vectors
    ij = _axial(shifts, ISD)
    np.testing.assert_allclose(ij, np.round(ij), atol=1e-9)


def test_wrap_shifts_without_wraparound_and_invalid():
    np.testing.assert_array_equal(wrap_shifts(19, ISD, False), np.zeros((1, 2)))
    np.testing.assert_array_equal(hex_layout(7, ISD, 25.0, 8.0).wrap_shifts_m, np.zeros((1, 2)))
    with pytest.raises(ParameterError):
        wrap_shifts(1, ISD, True)
    with pytest.raises(ParameterError):
        hex_layout(1, ISD, 25.0, 8.0, wraparound=True)


@pytest.mark.parametrize("n", [7, 19])
def test_images_are_distinct_lattice_points(n):
    lay = hex_layout(n, ISD, 25.0, 8.0, wraparound=True)
    images = (lay.sites_xy_m[:, None, :] + lay.wrap_shifts_m[None, :, :]).reshape(-1, 2)
    assert len(images) == 7 * n
    ij = _axial(images, ISD)
    ij_int = np.round(ij).astype(int)
    np.testing.assert_allclose(ij, ij_int, atol=1e-9)
    assert len({tuple(p) for p in ij_int}) == 7 * n


@pytest.mark.parametrize("n", [7, 19])
def test_sites_tile_the_super_lattice(n):
    """The wrap-around super-lattice (spanned by two shifts 60° apart) has n lattice points per
    cell and no two sites differ by a super-lattice vector: the n sites are one full set of
    representatives, so the images tile the plane with no gap and no overlap."""
    shifts = wrap_shifts(n, ISD, True)[1:]
    ang = _angles_deg(shifts)
    k = int(np.argmin(ang))
    b1 = shifts[k]
    b2 = shifts[int(np.argmin(np.abs(np.mod(ang - ang[k], 360.0) - 60.0)))]
    basis = np.column_stack([b1, b2])
    cell_area = abs(np.linalg.det(basis))
    lattice_area = ISD * ISD * SQRT3 / 2.0
    assert cell_area / lattice_area == pytest.approx(n, rel=1e-12)
    sites = hex_site_positions(n, ISD)
    for s, t in itertools.combinations(range(n), 2):
        c = np.linalg.solve(basis, sites[s] - sites[t])
        assert not np.allclose(c, np.round(c), atol=1e-9), (s, t)


# --------------------------------------------------------------------------- nearest image


def _network_points(rng, n_sites, n):
    """Points uniform over the union of the sites' hexagons (rejection sampling, done here)."""
    sites = hex_site_positions(n_sites, ISD)
    r = ISD / SQRT3
    out = []
    while sum(len(o) for o in out) < n:
        s = rng.integers(n_sites, size=4 * n)
        rel = rng.uniform(-r, r, size=(4 * n, 2))
        # independent membership: inside all six half-planes with normals at 0°, 60°, ...
        normals = np.array(
            [[math.cos(math.radians(a)), math.sin(math.radians(a))] for a in range(0, 360, 60)]
        )
        inside = (rel @ normals.T).max(axis=1) <= r * SQRT3 / 2.0
        out.append(sites[s[inside]] + rel[inside])
    return np.vstack(out)[:n]


@pytest.fixture(scope="module")
def wrap19():
    return hex_layout(19, ISD, 25.0, 12.0, wraparound=True)


@pytest.fixture(scope="module")
def wrap7():
    return hex_layout(7, ISD, 25.0, 12.0, wraparound=True)


@pytest.mark.parametrize("which", ["wrap7", "wrap19"])
def test_nearest_image_is_the_brute_force_minimum(which, request):
    lay = request.getfixturevalue(which)
    rng = np.random.default_rng(11)
    pts = np.vstack(
        [_network_points(rng, lay.n_sites, 3000), rng.uniform(-3 * ISD, 3 * ISD, (1000, 2))]
    )
    off = lay.nearest_image_offsets(pts)
    assert off.shape == (lay.n_sites, len(pts), 2)
    d = np.hypot(off[..., 0], off[..., 1])
    direct = pts[None, :, :] - lay.sites_xy_m[:, None, :]
    d_direct = np.hypot(direct[..., 0], direct[..., 1])
    assert np.all(d <= d_direct + 1e-9)
    # brute force over the 7 images: points − (site + shift)
    cand = pts[None, None, :, :] - (
        lay.sites_xy_m[:, None, None, :] + lay.wrap_shifts_m[None, :, None, :]
    )  # (S, 7, n, 2)
    d_cand = np.hypot(cand[..., 0], cand[..., 1])
    np.testing.assert_allclose(d, d_cand.min(axis=1), rtol=0, atol=1e-9)
    # and the returned vector is one of the candidates (point − an actual image)
    match = np.isclose(cand, off[:, None, :, :], rtol=0, atol=1e-9).all(axis=-1).any(axis=1)
    assert match.all()


@pytest.mark.parametrize("which", ["wrap7", "wrap19"])
def test_seven_images_suffice_for_the_whole_torus(which, request):
    """For points in the network, the nearest of the 7 images is the nearest of *all* images
    (site + any super-lattice vector), and its distance is at most the circumradius of the
    super-lattice's Voronoi hexagon, |shift|/√3 = √(n/3)·ISD (2.52 ISD for 19 sites, 1.53 ISD
    for 7); the bound is nearly reached somewhere."""
    lay = request.getfixturevalue(which)
    n = lay.n_sites
    rng = np.random.default_rng(5)
    pts = _network_points(rng, n, 20000)
    d = np.hypot(*lay.nearest_image_offsets(pts).transpose(2, 0, 1))
    shifts = lay.wrap_shifts_m[1:]
    ang = _angles_deg(shifts)
    b1 = shifts[int(np.argmin(ang))]
    b2 = shifts[int(np.argmin(np.abs(np.mod(ang - ang.min(), 360.0) - 60.0)))]
    best = np.full((n, len(pts)), np.inf)
    for i, j in itertools.product(range(-3, 4), repeat=2):
        img = lay.sites_xy_m + i * b1 + j * b2
        rel = pts[None, :, :] - img[:, None, :]
        best = np.minimum(best, np.hypot(rel[..., 0], rel[..., 1]))
    np.testing.assert_allclose(d, best, rtol=0, atol=1e-9)
    bound = math.sqrt(n / 3.0) * ISD
    assert d.max() <= bound + 1e-9
    assert d.max() >= 0.97 * bound


def test_no_wraparound_offsets_are_direct_vectors():
    lay = hex_layout(7, ISD, 25.0, 8.0)
    rng = np.random.default_rng(2)
    pts = rng.uniform(-1500, 1500, (500, 2))
    off = lay.nearest_image_offsets(pts)
    np.testing.assert_array_equal(off, pts[None, :, :] - lay.sites_xy_m[:, None, :])


# --------------------------------------------------------------------------- hexagon membership


def _inside_by_half_planes(pts, centre, radius):
    """Independent check: inside all six sides, whose outward normals point at 0°, 60°, ...
    (the vertices point at 30°, 90°, ...), at the inradius R·√3/2."""
    normals = np.array(
        [[math.cos(math.radians(a)), math.sin(math.radians(a))] for a in range(0, 360, 60)]
    )
    proj = (pts - centre) @ normals.T
    return proj.max(axis=1), radius * SQRT3 / 2.0


@pytest.mark.parametrize("centre", [(0.0, 0.0), (433.0, -250.0)])
def test_hexagon_contains_matches_half_plane_test(centre):
    centre = np.asarray(centre)
    radius = 300.0
    rng = np.random.default_rng(7)
    pts = centre + rng.uniform(-1.2 * radius, 1.2 * radius, (50000, 2))
    got = hexagon_contains(pts, centre, radius)
    proj, inner = _inside_by_half_planes(pts, centre, radius)
    clear = np.abs(proj - inner) > 1e-6
    np.testing.assert_array_equal(got[clear], (proj <= inner)[clear])
    assert 0.3 < got.mean() < 0.7  # both outcomes well represented


def test_hexagon_contains_inscribed_and_circumscribed_disks():
    radius = 200.0
    rng = np.random.default_rng(8)
    ang = rng.uniform(0, 2 * np.pi, 20000)
    unit = np.c_[np.cos(ang), np.sin(ang)]
    r_in = rng.uniform(0, 0.999 * radius * SQRT3 / 2.0, 20000)
    r_out = rng.uniform(1.001 * radius, 3.0 * radius, 20000)
    assert hexagon_contains(unit * r_in[:, None], np.zeros(2), radius).all()
    assert not hexagon_contains(unit * r_out[:, None], np.zeros(2), radius).any()


def test_hexagon_area_by_monte_carlo():
    """Fraction of the bounding square [−R, R]² inside the hexagon = (3√3/2·R²)/(4R²) ≈ 0.6495;
    binomial standard error √(p(1−p)/N) ≈ 0.0011 for N = 2·10⁵, tolerance 4 standard errors."""
    radius = 123.0
    n = 200_000
    rng = np.random.default_rng(9)
    pts = rng.uniform(-radius, radius, (n, 2))
    frac = hexagon_contains(pts, np.zeros(2), radius).mean()
    p = (3.0 * SQRT3 / 2.0) / 4.0
    assert frac == pytest.approx(p, abs=4.0 * math.sqrt(p * (1 - p) / n))


def test_site_hexagons_are_the_voronoi_cells():
    """With R = ISD/√3 a point lies in exactly one site's hexagon, the nearest site's, anywhere
    inside the 19-site network's inner region (within 2·ISD of the centre)."""
    sites = hex_site_positions(19, ISD)
    rng = np.random.default_rng(10)
    r = 2.0 * ISD * np.sqrt(rng.random(20000))
    a = rng.uniform(0, 2 * np.pi, 20000)
    pts = np.c_[r * np.cos(a), r * np.sin(a)]
    member = np.array([hexagon_contains(pts, s, ISD / SQRT3) for s in sites])  # (19, n)
    d = np.hypot(*(pts[None, :, :] - sites[:, None, :]).transpose(2, 0, 1))
    srt = np.sort(d, axis=0)
    clear = srt[1] - srt[0] > 1e-6  # not on a cell boundary
    np.testing.assert_array_equal(member.sum(axis=0)[clear], 1)
    np.testing.assert_array_equal(member.argmax(axis=0)[clear], d.argmin(axis=0)[clear])


# --------------------------------------------------------------------------- CSV site lists

HEADER = "site,x_m,y_m,height_m,azimuth_deg,tilt_deg"


def _write(tmp_path, text, name="sites.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_layout_loads_and_groups_sites(tmp_path):
    text = "\n".join(
        [
            HEADER + ",mech_tilt_deg",
            "A,100,200,30,0,6,2",
            "B,-50.5,10,25,90,8,",
            "A,100,200,30,120,6,0",
            " C ,0,0,20,45,-3,1.5",
            "A,100.4,199.8,30,240,7,0",
            "B,-50.5,10,25,270,10,3",
        ]
    )
    lay = csv_layout(_write(tmp_path, text + "\n"))
    assert lay.n_sites == 3
    np.testing.assert_allclose(lay.sites_xy_m, [[100, 200], [-50.5, 10], [0, 0]])
    np.testing.assert_array_equal(lay.cells.site, [0, 1, 0, 2, 0, 1])
    assert lay.cells.name == ("Ac0", "Bc0", "Ac1", "Cc0", "Ac2", "Bc1")
    np.testing.assert_allclose(lay.cells.x_m, [100, -50.5, 100, 0, 100.4, -50.5])
    np.testing.assert_allclose(lay.cells.height_m, [30, 25, 30, 20, 30, 25])
    np.testing.assert_allclose(lay.cells.azimuth_deg, [0, 90, 120, 45, 240, 270])
    np.testing.assert_allclose(lay.cells.tilt_deg, [6, 8, 6, -3, 7, 10])
    # an empty optional cell falls back to 0° mechanical tilt
    np.testing.assert_allclose(lay.cells.mech_tilt_deg, [2, 0, 0, 1.5, 0, 3])
    np.testing.assert_array_equal(lay.wrap_shifts_m, np.zeros((1, 2)))
    assert lay.isd_m is None


def test_csv_layout_without_optional_column(tmp_path):
    path = _write(tmp_path, HEADER + "\nS1,1,2,25,30,8\nS1,1,2,25,150,9\nS2,500,0,25,30,-90\n")
    lay = csv_layout(str(path))  # str paths work too
    assert lay.n_sites == 2
    np.testing.assert_array_equal(lay.cells.mech_tilt_deg, [0, 0, 0])
    np.testing.assert_allclose(lay.cells.tilt_deg, [8, 9, -90])
    # the nearest image of a site without wrap-around is the site itself
    off = lay.nearest_image_offsets(np.array([[0.0, 0.0]]))
    np.testing.assert_allclose(off[:, 0, :], [[-1, -2], [-500, 0]])


GOOD_ROW = "A,0,0,25,30,8"

MALFORMED = {
    # name: (file text, column the message must name)
    "missing column": ("site,x_m,y_m,height_m,azimuth_deg\nA,0,0,25,30\n", "tilt_deg"),
    "unknown column": (HEADER + ",power_dbm\n" + GOOD_ROW + ",46\n", "power_dbm"),
    "not a number": (HEADER + "\nA,0,north,25,30,8\n", "y_m"),
    "empty value": (HEADER + "\n" + GOOD_ROW + "\nB,500,0,,30,8\n", "height_m"),
    "short row": (HEADER + "\n" + GOOD_ROW + "\nB,500,0,25,30\n", "tilt_deg"),
    "nan": (HEADER + "\nA,nan,0,25,30,8\n", "x_m"),
    "infinite": (HEADER + "\nA,0,0,25,inf,8\n", "azimuth_deg"),
    "tilt above 90": (HEADER + "\n" + GOOD_ROW + "\nB,500,0,25,30,95\n", "tilt_deg"),
    "tilt below -90": (HEADER + "\nA,0,0,25,30,-90.5\n", "tilt_deg"),
    "zero height": (HEADER + "\nA,0,0,0,30,8\n", "height_m"),
    "bad mech tilt": (HEADER + ",mech_tilt_deg\nA,0,0,25,30,8,x\n", "mech_tilt_deg"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_csv_layout_malformed_names_file_and_column(tmp_path, case):
    text, column = MALFORMED[case]
    path = _write(tmp_path, text, name=f"bad_{case.replace(' ', '_')}.csv")
    with pytest.raises(ScenarioError) as err:
        csv_layout(path)
    msg = str(err.value)
    assert str(path) in msg
    assert column in msg


@pytest.mark.parametrize("text", ["", HEADER + "\n"])
def test_csv_layout_empty_file(tmp_path, text):
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioError, match="empty") as err:
        csv_layout(path)
    assert str(path) in str(err.value)


def test_csv_layout_missing_file(tmp_path):
    path = tmp_path / "nowhere" / "sites.csv"
    with pytest.raises(ScenarioError) as err:
        csv_layout(path)
    assert str(path) in str(err.value)


def test_csv_layout_cells_of_a_site_far_apart(tmp_path):
    path = _write(tmp_path, HEADER + "\nSiteX,0,0,25,30,8\nSiteX,0,5,25,150,8\n")
    with pytest.raises(ScenarioError) as err:
        csv_layout(path)
    assert str(path) in str(err.value)
    assert "SiteX" in str(err.value)


def test_csv_layout_cells_within_one_metre_are_one_site(tmp_path):
    path = _write(tmp_path, HEADER + "\nA,0,0,25,30,8\nA,0.9,-0.9,25,150,8\n")
    lay = csv_layout(path)
    assert lay.n_sites == 1
    np.testing.assert_array_equal(lay.cells.site, [0, 0])


def test_csv_layout_far_apart_message_names_the_column(tmp_path):
    path = _write(tmp_path, HEADER + "\nSiteX,0,0,25,30,8\nSiteX,0,5,25,150,8\n")
    with pytest.raises(ScenarioError, match="y_m"):
        csv_layout(path)


def test_csv_layout_row_with_extra_fields(tmp_path):
    path = _write(tmp_path, HEADER + "\nA,0,0,25,30,8,99\n")
    with pytest.raises(ScenarioError):
        csv_layout(path)


def test_csv_layout_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "\nSé,0,0,25,30,8\n").encode("latin-1"))
    with pytest.raises(ScenarioError):
        csv_layout(path)


@pytest.mark.parametrize("rings", [3, 7])
def test_larger_hex_networks_are_full_rings(rings):
    """Beyond 3GPP's 19 sites: ring r holds 6 r sites at hexagonal distance r, none repeated."""
    n = 1 + 3 * rings * (rings + 1)
    pts = hex_site_positions(n, ISD) / ISD
    assert len(np.unique(np.round(pts, 6), axis=0)) == n
    d = np.hypot(pts[:, 0, None] - pts[:, 0], pts[:, 1, None] - pts[:, 1])
    np.fill_diagonal(d, np.inf)
    np.testing.assert_allclose(d.min(axis=1), 1.0)  # nearest neighbour at one ISD
    np.testing.assert_array_equal(pts[:19], hex_site_positions(19, ISD) / ISD)  # same start
    norms = np.hypot(pts[:, 0], pts[:, 1])
    assert norms.max() == pytest.approx(rings, rel=1e-9)  # the outer ring's corners
    assert np.sum(np.isclose(norms, rings)) == 6
