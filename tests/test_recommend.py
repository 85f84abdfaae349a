"""Tilt recommendations out: the policy's tilts go into a copy of the site database that keeps
every other field as written and loads again; the change list has old, new and delta per cell;
tilts stay within each cell's RET range; other carriers' rows are untouched; the source file is
never overwritten."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from cellsim.errors import CellsimError
from cellsim.network.build import build_layout
from cellsim.recommend import CHANGE_COLUMNS, run_recommend
from cellsim.scenario import load_scenario_file
from tests.geo_fixture import write_network
from tests.test_cli import error_line, run_cli


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_the_new_database_is_the_source_with_the_policys_tilts(tmp_path):
    net = write_network(tmp_path / "n")
    rec, out, changes = run_recommend(str(net), "rule-geometric", 11.0, tmp_path / "tilts.csv")
    assert changes == tmp_path / "tilts.changes.csv"
    source, written = _rows(tmp_path / "n" / "sites.csv"), _rows(out)
    assert list(written[0]) == list(source[0])  # same columns, same order
    assert len(written) == len(source)
    for before, after, new in zip(source, written, rec.new_tilt_deg, strict=True):
        assert {k: v for k, v in after.items() if k != "tilt_deg"} == {
            k: v for k, v in before.items() if k != "tilt_deg"
        }
        assert float(after["tilt_deg"]) == new
    assert (rec.new_tilt_deg != rec.old_tilt_deg).any()  # rule-geometric moves some cells
    # it loads as a site database, with the recommended tilts
    again = net.read_text().replace(
        'file = "sites.csv"', f'file = "{out}"\nantenna_dir = "antennas"'
    )
    (tmp_path / "n" / "again.toml").write_text(again)
    layout = build_layout(load_scenario_file(tmp_path / "n" / "again.toml"))
    np.testing.assert_array_equal(layout.cells.tilt_deg, rec.new_tilt_deg)
    # the change list
    listed = _rows(changes)
    assert tuple(listed[0]) == CHANGE_COLUMNS
    for i, row in enumerate(listed):
        assert row["cell"] == rec.cell[i]
        old, new = float(row["old_tilt_deg"]), float(row["new_tilt_deg"])
        assert old == float(source[i]["tilt_deg"]) and new == rec.new_tilt_deg[i]
        assert float(row["delta_deg"]) == pytest.approx(new - old)
        assert row["note"] == ""


def test_tilts_stay_within_the_ret_range_with_a_note(tmp_path, monkeypatch):
    net = write_network(tmp_path / "n")
    monkeypatch.setattr(
        "cellsim.demo.tilts_at",
        lambda env, policy, hour, seed: env.sim.layout.cells.tilt_deg + 9.26,
    )
    rec, _, changes = run_recommend(str(net), "hold", 11.0, tmp_path / "t.csv")
    np.testing.assert_array_equal(rec.new_tilt_deg, 12.0)  # ret_max_deg of every cell
    assert rec.clipped.all() and "held at the end of their RET range" in rec.summary()
    notes = [row["note"] for row in _rows(changes)]
    assert all(n == "policy asked 15.3°, beyond the RET range 0…12°" for n in notes)


def test_other_carriers_rows_are_kept_as_written(tmp_path):
    net = write_network(tmp_path / "n", carriers=((3500.0, 20.0), (1800.0, 10.0)))
    net.write_text(
        net.read_text().replace('file = "sites.csv"', 'file = "sites.csv"\ncarrier_mhz = 3500')
    )
    rec, out, _ = run_recommend(str(net), "rule-geometric", 11.0, tmp_path / "t.csv")
    source, written = _rows(tmp_path / "n" / "sites.csv"), _rows(out)
    other = [i for i, r in enumerate(source) if r["frequency_mhz"] == "1800"]
    assert len(other) == 12 and all(written[i] == source[i] for i in other)
    changed = {r["cell"]: float(r["tilt_deg"]) for r in written if r["frequency_mhz"] == "3500"}
    assert changed == dict(zip(rec.cell, rec.new_tilt_deg, strict=True))


def test_refusals_are_one_line(tmp_path, capsys):
    net = write_network(tmp_path / "n")
    with pytest.raises(CellsimError, match="is the scenario's own site database"):
        run_recommend(str(net), "hold", 11.0, tmp_path / "n" / "sites.csv")
    code, _, err = run_cli(capsys, "recommend", "--scenario", "hex7", "--policy", "hold",
                           "--out", str(tmp_path / "t.csv"))  # fmt: skip
    assert "layout.type = 'hex': a recommendation is written in the site database's format" in (
        error_line(code, err)
    )
    code, _, err = run_cli(capsys, "recommend", "--scenario", str(net), "--policy", "hold",
                           "--out", str(tmp_path / "t.txt"))  # fmt: skip
    assert "allowed file types .csv" in error_line(code, err)


def test_cli_prints_the_summary(tmp_path, capsys):
    net = write_network(tmp_path / "n")
    paths = ["--out", str(tmp_path / "t.csv"), "--changes", str(tmp_path / "c.csv")]
    code, out, err = run_cli(capsys, "recommend", "--scenario", str(net), "--policy",
                             "rule-geometric", "--time", "18:00", *paths)  # fmt: skip
    assert code == 0, err
    assert out.startswith("rule-geometric at 18:00: ") and "cells change" in out
    assert (tmp_path / "c.csv").is_file() and (tmp_path / "t.csv").is_file()
