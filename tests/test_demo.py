"""`make demo`'s job (`cellsim.demo.run_demo`): the baselines' comparison runs in a second process
while PPO trains, and its table must be the one a single comparison of everything gives."""

from __future__ import annotations

import json

from cellsim.demo import run_demo
from cellsim.evaluation import compare, to_json


def test_the_demo_table_is_one_compare_of_the_baselines_the_reference_and_ppo(tmp_path):
    files = run_demo(tmp_path / "demo", timesteps=2048, episodes=1, progress=False)
    shown = json.loads(files["json"].read_text())
    agents = ["baselines", "reference", f"ppo={files['run']}"]
    single = json.loads(json.dumps(to_json("hex7", compare("hex7", agents, 1))))
    assert list(shown["agents"]) == list(single["agents"])
    assert "in_sample" in shown["agents"]["ppo"] and "score" in shown["agents"]["ppo"]["in_sample"]
    assert shown == single
    for name in ("table", "kpis_over_day", "throughput_cdf", "map"):
        assert files[name].is_file()
