"""Tilt recommendations out: the electrical tilts a policy sets, written back into the site
database's own CSV format (the file an engineer hands to the OSS), with a change list per cell.

`cellsim recommend --scenario S --policy P --time HH:MM --out tilts.csv` writes:
- `tilts.csv`: the site database, every row and column as the source wrote them, `tilt_deg`
  replaced by the recommendation on the simulated carrier's cells (other carriers' rows as
  they were). It loads as a site database itself, so the recommendation can be simulated again.
- `tilts.changes.csv` (or `--changes`): site, cell, carrier, old, new and delta tilt per cell,
  the RET range, and a note where the policy asked for a tilt beyond the cell's RET range.

Decisions:
- The policy runs one episode (`seed`) of the scenario's env from midnight to `hour`; its tilts
  then are the recommendation, as `cellsim map --policy` draws them. A day plan (static-plan,
  the reference) is read at the hour the same way.
- Old is the database's `tilt_deg` (what the network runs now), not the env's clipped start.
- Only electrical tilt changes (RET, remote); mechanical tilt is a site visit and stays.
- New tilts are rounded to `TILT_DECIMALS` (RET actuators take 0.1° steps) and kept within each
  cell's RET range ret_min_deg … ret_max_deg: the OSS refuses a tilt beyond it, so a policy
  asking for one gets the range's end and a note.
- The source file is never overwritten (`--out` naming it is refused): bad input loses no work.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cellsim.errors import CellsimError

if TYPE_CHECKING:  # pragma: no cover
    from cellsim.env.tilt_env import TiltEnv
    from cellsim.scenario import Scenario

__all__ = [
    "CHANGE_COLUMNS",
    "TILT_DECIMALS",
    "Recommendation",
    "changes_path",
    "changes_text",
    "recommend",
    "run_recommend",
    "site_database_text",
]

#: Decimals of recommended tilts (degrees): RET actuators move in 0.1° steps.
TILT_DECIMALS = 1
#: Columns of the change list.
CHANGE_COLUMNS = (
    "site",
    "cell",
    "frequency_mhz",
    "old_tilt_deg",
    "new_tilt_deg",
    "delta_deg",
    "ret_min_deg",
    "ret_max_deg",
    "note",
)


@dataclass(frozen=True)
class Recommendation:
    """Per simulated cell: the database's tilt, the recommended one (rounded, within the RET
    range) and what the policy asked for."""

    policy: str
    hour: float
    site: tuple[str, ...]
    cell: tuple[str, ...]
    frequency_mhz: np.ndarray
    old_tilt_deg: np.ndarray
    new_tilt_deg: np.ndarray
    requested_tilt_deg: np.ndarray
    ret_min_deg: np.ndarray
    ret_max_deg: np.ndarray

    @property
    def delta_deg(self) -> np.ndarray:
        return np.round(self.new_tilt_deg - self.old_tilt_deg, TILT_DECIMALS)

    @property
    def clipped(self) -> np.ndarray:
        """Cells whose requested tilt lay beyond their RET range."""
        return np.abs(self.requested_tilt_deg - self.new_tilt_deg) > 0.5 * 10.0**-TILT_DECIMALS

    def summary(self) -> str:
        """One line: the policy, the time, how many cells change and by how much."""
        from cellsim.viz.frame import frame_clock

        moved = self.delta_deg != 0
        n, k = len(self.cell), int(moved.sum())
        text = f"{self.policy} at {frame_clock(self.hour)}: {k} of {n} cells change"
        if k:
            size = np.abs(self.delta_deg[moved])
            text += f" (mean |Δ| {size.mean():.1f}°, max {size.max():g}°)"
        if self.clipped.any():
            text += f", {int(self.clipped.sum())} held at the end of their RET range"
        return text


def _site_database_scenario(scenario: Scenario) -> None:
    if scenario.layout.type != "sites":
        raise CellsimError(
            f"{scenario.origin}: layout.type = {scenario.layout.type!r}: a recommendation is "
            "written in the site database's format: allowed scenarios with layout.type = "
            "'sites' (their tilts are in the scenario file itself otherwise)"
        )


def recommend(env: TiltEnv, policy_spec: str, hour: float, seed: int = 0) -> Recommendation:
    """The tilts the policy `policy_spec` has set by `hour` in the episode of `seed`."""
    from cellsim.demo import tilts_at
    from cellsim.evaluation import load_policy

    _site_database_scenario(env.scenario)
    name, policy = load_policy(policy_spec, env)
    requested = np.asarray(tilts_at(env, policy, hour, seed=seed), float)
    cells = env.sim.layout.cells
    assert cells.ret_min_deg is not None and cells.ret_max_deg is not None  # site databases
    assert cells.frequency_mhz is not None
    site_names = env.sim.layout.site_names
    assert site_names is not None
    new = np.clip(np.round(requested, TILT_DECIMALS), cells.ret_min_deg, cells.ret_max_deg)
    return Recommendation(
        policy=name,
        hour=hour,
        site=tuple(site_names[int(s)] for s in cells.site),
        cell=cells.name,
        frequency_mhz=np.asarray(cells.frequency_mhz, float),
        old_tilt_deg=np.asarray(cells.tilt_deg, float),
        new_tilt_deg=new,
        requested_tilt_deg=requested,
        ret_min_deg=np.asarray(cells.ret_min_deg, float),
        ret_max_deg=np.asarray(cells.ret_max_deg, float),
    )


def _source_rows(scenario: Scenario) -> tuple[list[str], list[dict[str, Any]], Path | None]:
    """The site database as written: its columns in order, its rows, and its file (None for
    inline `[[layout.cells]]` rows, whose columns follow the site database's order)."""
    from cellsim.network.layout import read_csv_rows
    from cellsim.network.sites import ALL_COLUMNS
    from cellsim.scenario import resolve_path

    cfg = scenario.layout
    assert cfg.type == "sites"
    if cfg.file is not None:
        path = resolve_path(scenario, cfg.file)
        rows: list[dict[str, Any]] = list(read_csv_rows(path))
        return list(rows[0]), rows, path
    rows = [dict(r) for r in cfg.cells or []]
    present = {k for r in rows for k in r}
    return [c for c in ALL_COLUMNS if c in present], rows, None


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)


def _csv(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({c: _text(r.get(c)) for c in columns} for r in rows)
    return buffer.getvalue()


def site_database_text(scenario: Scenario, rec: Recommendation) -> str:
    """The scenario's site database as CSV text with the recommended `tilt_deg`."""
    columns, rows, _ = _source_rows(scenario)
    new = {cell: _text(float(t)) for cell, t in zip(rec.cell, rec.new_tilt_deg, strict=True)}
    out = []
    for row in rows:
        cell = str(row.get("cell", "")).strip()
        out.append({**row, "tilt_deg": new[cell]} if cell in new else row)
    return _csv(columns, out)


def changes_text(rec: Recommendation) -> str:
    """The change list as CSV text: one row per simulated cell."""
    rows = []
    for i, cell in enumerate(rec.cell):
        note = ""
        if rec.clipped[i]:
            note = (
                f"policy asked {rec.requested_tilt_deg[i]:.1f}°, beyond the RET range "
                f"{rec.ret_min_deg[i]:g}…{rec.ret_max_deg[i]:g}°"
            )
        rows.append(
            {
                "site": rec.site[i],
                "cell": cell,
                "frequency_mhz": float(rec.frequency_mhz[i]),
                "old_tilt_deg": float(rec.old_tilt_deg[i]),
                "new_tilt_deg": float(rec.new_tilt_deg[i]),
                "delta_deg": float(rec.delta_deg[i]) + 0.0,  # no "-0"
                "ret_min_deg": float(rec.ret_min_deg[i]),
                "ret_max_deg": float(rec.ret_max_deg[i]),
                "note": note,
            }
        )
    return _csv(CHANGE_COLUMNS, rows)


def changes_path(out: str | Path) -> Path:
    """Where the change list goes by default: tilts.csv → tilts.changes.csv."""
    out = Path(out)
    return out.with_name(f"{out.stem}.changes{out.suffix}")


def run_recommend(
    scenario: str,
    policy: str,
    hour: float,
    out: str | Path,
    changes: str | Path | None = None,
    seed: int = 0,
) -> tuple[Recommendation, Path, Path]:
    """`cellsim recommend`: the recommendation, the site database and change list written."""
    from cellsim.env.tilt_env import TiltEnv
    from cellsim.formats.atomic import atomic_write_text
    from cellsim.scenario import load_scenario

    loaded = load_scenario(scenario)
    _site_database_scenario(loaded)
    out = Path(out)
    changes = changes_path(out) if changes is None else Path(changes)
    _, _, source = _source_rows(loaded)
    for option, target in (("--out", out), ("--changes", changes)):
        if source is not None and target.resolve() == source.resolve():
            raise CellsimError(
                f"{option} {str(target)!r} is the scenario's own site database: allowed "
                "another file (a recommendation never overwrites its source)"
            )
    if out.resolve() == changes.resolve():
        raise CellsimError(f"--changes {str(changes)!r} is --out too: allowed another file")
    env = TiltEnv(loaded)
    rec = recommend(env, policy, hour, seed)
    try:
        atomic_write_text(out, site_database_text(loaded, rec))
        atomic_write_text(changes, changes_text(rec))
    except OSError as exc:
        raise CellsimError(f"cannot write {exc.filename}: {exc.strerror or exc}") from None
    return rec, out, changes
