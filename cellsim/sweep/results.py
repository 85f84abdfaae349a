"""The sweep folder and its results.

```
OUT/sweep.json     which sweep this folder holds (its trials' ids), written first
OUT/trials.jsonl   one record per finished or failed trial, per-episode results included
OUT/trials.csv     the same, one flat row per trial (scenario, agent, hyperparameters, seed,
                   reward, KPIs, wall time, status, error), for spreadsheets and pandas
OUT/results.json   per scenario, the `cellsim compare --json` document
OUT/results.md     per scenario, the `cellsim compare` table
OUT/runs/ID/       the run folder of each trained trial (cellsim train's layout)
```

Decisions:
- Only the driver writes these files, after each trial, each one atomically (a temporary file,
  then a rename): killing the sweep at any moment leaves every file whole and loses only the
  trials in flight.
- A folder is resumed only if it holds the same sweep (same trial ids); anything else is refused,
  never overwritten.
- Aggregation reuses `cellsim.evaluation`: for trained agents the "episodes" of `AgentResult` are
  the trials, one per training seed (reward = mean over the evaluation seeds), so the 95 % CI is
  across training seeds; built-in policies do not depend on a seed and keep their per-episode
  results, so their rows equal what `cellsim compare` prints for them.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from cellsim.errors import ConfigError
from cellsim.evaluation import (
    KPI_NAMES,
    REFERENCE_AGENTS,
    AgentResult,
    EpisodeResult,
    to_json,
    to_markdown,
)
from cellsim.sweep.spec import Sweep
from cellsim.training.runs import atomic_write_text as _atomic_write_text

CSV_COLUMNS = (
    "trial_id", "scenario", "label", "agent", "hyperparams", "timesteps", "seed", "status",
    "reward", *KPI_NAMES, "tilt_changes", "wall_s", "error", "run_dir",
)  # fmt: skip


class SweepStore:
    """Reads and writes one sweep folder (see the module docstring)."""

    def __init__(self, out: str | Path, sweep: Sweep):
        self.out, self.sweep = Path(out), sweep
        self.records: dict[str, dict[str, Any]] = {}

    def open(self) -> None:
        """Create the folder, or check that it holds this very sweep and load its records."""
        marker = self.out / "sweep.json"
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(f"--out {str(self.out)!r} is a file: allowed a folder")
        if self.out.is_dir() and any(self.out.iterdir()):
            if not marker.is_file():
                raise ConfigError(
                    f"--out {str(self.out)!r} exists, is not empty and holds no sweep "
                    "(no sweep.json): choose a new folder (folders are never overwritten)"
                )
            held = json.loads(marker.read_text())
            if held.get("fingerprint") != self.sweep.fingerprint():
                raise ConfigError(
                    f"--out {str(self.out)!r} holds another sweep ({held.get('source')!r}, "
                    f"{len(held.get('trials', []))} trials): re-run that sweep there, or choose "
                    "a new folder for this one"
                )
            self.records = self._read_records()
            return
        self.out.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(marker, json.dumps({
            "name": self.sweep.name, "source": self.sweep.source,
            "fingerprint": self.sweep.fingerprint(),
            "spec": self.sweep.spec.model_dump(mode="json"),
            "trials": [t.trial_id for t in self.sweep.trials],
        }, indent=1))  # fmt: skip

    def _read_records(self) -> dict[str, dict[str, Any]]:
        path = self.out / "trials.jsonl"
        if not path.is_file():
            return {}
        records = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
        return {r["trial_id"]: r for r in records}

    def finished(self) -> set[str]:
        return {i for i, r in self.records.items() if r["status"] == "ok"}

    def add(self, record: dict[str, Any]) -> None:
        """Keep a trial's record (replacing an earlier attempt) and rewrite the tables."""
        self.records[record["trial_id"]] = record
        order = {t.trial_id: i for i, t in enumerate(self.sweep.trials)}
        rows = sorted(self.records.values(), key=lambda r: order.get(r["trial_id"], len(order)))
        _atomic_write_text(self.out / "trials.jsonl",
                           "".join(json.dumps(r) + "\n" for r in rows))  # fmt: skip
        _atomic_write_text(self.out / "trials.csv", _csv(rows))

    def write_results(self) -> dict[str, Any]:
        doc = aggregate(self.sweep, self.records)
        _atomic_write_text(self.out / "results.json", json.dumps(doc, indent=1))
        _atomic_write_text(self.out / "results.md", markdown(doc))
        return doc


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        flat = {**r, **r.get("kpis", {}), "hyperparams": json.dumps(r["hyperparams"],
                                                                    sort_keys=True)}  # fmt: skip
        flat["seed"] = "" if r["seed"] is None else r["seed"]
        writer.writerow(flat)
    return buffer.getvalue()


def _episode(record: dict[str, Any]) -> EpisodeResult:
    """An episode (or a trial, for a trained agent: its mean over the evaluation episodes)."""
    empty = np.zeros(0)
    return EpisodeResult(
        seed=record["seed"], reward=record["reward"], kpis=record["kpis"], hours=empty,
        per_step={}, rates_mbps=empty, rate_weights=empty, tilt_changes=record["tilt_changes"],
        network_seed=record.get("network_seed", -1),
        tilt_changes_per_cell_day=record.get("tilt_changes_per_cell_day", float("nan")),
    )  # fmt: skip


def agent_result(label: str, records: list[dict[str, Any]]) -> AgentResult:
    """A trained agent's trials (one per seed), or a built-in policy's evaluation episodes."""
    if records[0]["seed"] is None:
        eps = [_episode(e) for e in records[0]["episode_results"]]
        return AgentResult(label, eps, records[0].get("simulator_evaluations"))
    eps = [_episode(r) for r in records]
    return AgentResult(label, eps)


def aggregate(sweep: Sweep, records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The sweep's results.json: per scenario, the `cellsim compare --json` document."""
    scenarios = {}
    for scenario in sweep.spec.scenarios:
        ok: dict[str, list[dict[str, Any]]] = {}
        counts: dict[str, dict[str, int]] = {}
        for t in sweep.trials:
            if t.scenario != scenario:
                continue
            r = records.get(t.trial_id)
            status = r["status"] if r else "pending"
            counts.setdefault(t.label, {"ok": 0, "failed": 0, "pending": 0})[status] += 1
            if r is not None and status == "ok":
                ok.setdefault(t.label, []).append(r)
        results = {label: agent_result(label, recs) for label, recs in ok.items()}
        name = sweep.scenario_names[scenario]
        if all(ref in results for ref in REFERENCE_AGENTS):
            doc = to_json(name, results)
        else:  # no score without both references
            doc = {"scenario": name, "agents": {n: {**r.summary(), "score": None}
                                                for n, r in results.items()}}  # fmt: skip
        for label, summary in doc["agents"].items():
            summary["trials"] = counts[label]
        doc["missing"] = {label: c for label, c in counts.items() if label not in results}
        scenarios[scenario] = doc
    return {
        "sweep": sweep.name, "episodes": sweep.spec.episodes, "seeds": sweep.spec.seed_list,
        "trials": _totals(sweep, records), "scenarios": scenarios,
    }  # fmt: skip


def _totals(sweep: Sweep, records: dict[str, dict[str, Any]]) -> dict[str, int]:
    statuses = [records[t.trial_id]["status"] if t.trial_id in records else "pending"
                for t in sweep.trials]  # fmt: skip
    return {"total": len(statuses), **{s: statuses.count(s) for s in ("ok", "failed", "pending")}}


def markdown(doc: dict[str, Any]) -> str:
    """The `cellsim compare` table for each scenario, with what the intervals are across."""
    t = doc["trials"]
    parts = [
        f"# Sweep `{doc['sweep']}`\n\n{t['total']} trials: {t['ok']} ok, {t['failed']} failed, "
        f"{t['pending']} not run. Trained agents: mean [95 % CI] across {len(doc['seeds'])} "
        "training seeds of each run's mean over the evaluation seeds; built-in policies: across "
        f"the {doc['episodes']} evaluation seeds.\n"
    ]
    for scenario, sdoc in doc["scenarios"].items():
        agents = {n: {**s, "score": math.nan if s["score"] is None else s["score"]}
                  for n, s in sdoc["agents"].items()}  # fmt: skip
        shown = {**sdoc, "agents": agents}
        parts.append(f"## {scenario}\n\n{to_markdown(shown, doc['episodes'])}")
        if sdoc["missing"]:
            missing = ", ".join(f"{n} ({c['failed']} failed, {c['pending']} not run)"
                                for n, c in sdoc["missing"].items())  # fmt: skip
            parts.append(f"No results yet: {missing}.\n")
    return "\n".join(parts)
