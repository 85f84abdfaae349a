"""env.render(): 800×800 uint8 frames from one figure; "human" reuses its window; RecordVideo."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import cellsim  # noqa: F401  (registers cellsim/Tilt-v0)
from cellsim.env.tilt_env import TiltEnv


def test_rgb_array_frames_are_800_square_and_follow_the_network():
    env = TiltEnv("hex7", render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    assert first.shape == (800, 800, 3) and first.dtype == np.uint8
    renderer = env._renderer
    env.step(np.zeros(env.sim.n_cells, int))  # every cell down-tilts
    second = env.render()
    assert env._renderer is renderer  # built once
    assert (first != second).any(axis=2).mean() > 0.01
    assert len({tuple(c) for c in first[::4, ::4].reshape(-1, 3)}) > 100


def test_human_mode_reuses_its_figure(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")  # no display: the window is an Agg figure
    env = TiltEnv("hex7", render_mode="human")
    env.reset(seed=0)
    env.render()
    figure, image = env._figure
    env.step(np.ones(env.sim.n_cells, int))  # renders too, in human mode
    env.render()
    assert env._figure[0] is figure and env._figure[1] is image
    assert image.get_array().shape == (800, 800, 3)
    env.close()


def test_gymnasium_record_video_writes_an_mp4(tmp_path):
    pytest.importorskip("moviepy", reason="RecordVideo needs moviepy (the dev extra has it)")
    env = gym.make("cellsim/Tilt-v0", scenario="hex7", render_mode="rgb_array",
                   config={"episode_hours": 2})  # fmt: skip
    env = gym.wrappers.RecordVideo(env, str(tmp_path / "videos"), episode_trigger=lambda ep: True,
                                   disable_logger=True)  # fmt: skip
    env.reset(seed=0)
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        done = terminated or truncated
    env.close()
    videos = list((tmp_path / "videos").glob("*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 10_000


def test_record_writes_an_mp4(tmp_path):
    from cellsim.cli import main

    out = tmp_path / "episode.mp4"
    argv = ["record", "--scenario", "hex7", "--policy", "rule-geometric", "--every", "24",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert out.read_bytes()[4:8] == b"ftyp"
