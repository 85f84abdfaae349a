"""`cellsim report`: one self-contained HTML page of a comparison — what an engineer sends to
colleagues. Images are embedded as base64 PNG data URIs; the page loads nothing from anywhere."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from cellsim.env.tilt_env import TiltEnv
from cellsim.evaluation import REFERENCE_AGENTS, AgentResult, to_json, to_markdown
from cellsim.viz.compare import PLOTS
from cellsim.viz.maps import before_after_figure, map_figure

STYLE = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:.3em .6em}
th{background:#f3f3f3}img{max-width:100%;height:auto;display:block;margin:.5em 0}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:1em}"""


def png_data_uri(fig: Figure, dpi: int = 90) -> str:
    """The figure as a data: URI of a PNG."""
    from cellsim.viz.style import plain_text

    buffer = io.BytesIO()
    plain_text(fig).savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(fig: Figure, alt: str) -> str:
    return f'<img src="{png_data_uri(fig)}" alt="{html.escape(alt)}">'


def markdown_table_html(markdown: str) -> str:
    """The pipe table of `to_markdown` as an HTML table (the same numbers, one formatter)."""
    rows = [line.strip().strip("|").split("|") for line in markdown.splitlines()
            if line.startswith("|") and not line.startswith("|---")]  # fmt: skip
    head = "".join(f"<th>{html.escape(c.strip())}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in row) + "</tr>"
        for row in rows[1:]
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def tilts_near(result: AgentResult, hour: float) -> tuple[np.ndarray, float]:
    """The tilts an agent had set at the step of its first episode closest to `hour`."""
    episode = result.episodes[0]
    k = int(np.argmin(np.abs((episode.hours - hour + 12) % 24 - 12)))
    return episode.tilts_deg[k], float(episode.hours[k])


def best_agent(doc: dict) -> str:
    """The agent with the highest mean reward, the references aside (else the reference)."""
    agents = {n: s for n, s in doc["agents"].items() if n not in REFERENCE_AGENTS}
    agents = agents or {"reference": doc["agents"]["reference"]}
    return max(agents, key=lambda n: agents[n]["reward_mean"])


def build_report(env: TiltEnv, results: dict[str, AgentResult], episodes: int,
                 hour: float) -> str:  # fmt: skip
    """The HTML page: table, before/after, maps per agent, CDFs, KPIs over the day."""
    name = env.scenario.name
    doc = to_json(name, results)
    best = best_agent(doc)
    sim = env.sim
    plans = {agent: tilts_near(res, hour) for agent, res in results.items()}
    at = plans[best][1]
    sections = [
        f"<h1>cellsim report: {html.escape(name)}</h1>",
        f"<p>{html.escape(env.scenario.description)}. {sim.n_cells} cells, "
        f"{sim.raster.n_points:,} outdoor raster points, {episodes} evaluation seed(s).</p>",
        "<h2>Comparison</h2>", markdown_table_html(to_markdown(doc, episodes)),
        "<p>Score: 0 is the planning rule (rule-geometric), 1 the reference.</p>",
        f"<h2>Before/after: rule-geometric vs {html.escape(best)}</h2>",
        _img(before_after_figure(sim, {"rule-geometric": plans["rule-geometric"][0],
                                       best: plans[best][0]}, at, name),
             f"before/after rule-geometric vs {best}"),
        f"<h2>Best server under {html.escape(best)}</h2>",
        _img(map_figure(sim, plans[best][0], at, "server", f"{name}, {best}"), "server map"),
        "<h2>SINR maps per agent</h2>", '<div class="grid">',
        *(_img(map_figure(sim, tilt, h, "sinr", f"{name}, {agent}"), f"SINR map of {agent}")
          for agent, (tilt, h) in plans.items()),
        "</div>", "<h2>Distributions and the day</h2>", '<div class="grid">',
        *(_img(make(results), file) for file, make in PLOTS.items()),
        "</div>",
    ]  # fmt: skip
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>cellsim report: {html.escape(name)}</title><style>{STYLE}</style></head>"
            f"<body>{''.join(sections)}</body></html>\n")  # fmt: skip


def write_report(env: TiltEnv, results: dict[str, AgentResult], episodes: int, hour: float,
                 out: str | Path) -> Path:  # fmt: skip
    """`build_report` written to `out`."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build_report(env, results, episodes, hour), encoding="utf-8")
    return out
