"""Record an episode as an animated GIF (or MP4 where ffmpeg exists) from env.render frames."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import animation

from cellsim.env.tilt_env import TiltEnv


def record_episode(env: TiltEnv, policy, out: str | Path, seed: int = 0, every: int = 1) -> Path:
    """Run one episode of `policy`, keeping an rgb_array frame every `every` steps."""
    out = Path(out)
    env.render_mode = "rgb_array"
    obs, _ = env.reset(seed=seed)
    if hasattr(policy, "reset"):
        policy.reset()
    frames, hours = [env.render()], [env.hour]
    while True:
        action, _ = policy.predict(obs, deterministic=True)
        obs, _, terminated, truncated, _ = env.step(action)
        if env.t % every == 0:
            frames.append(env.render())
            hours.append(env.hour)
        if terminated or truncated:
            break
    fig, ax = plt.subplots(figsize=(5, 5), constrained_layout=True)
    ax.set_axis_off()
    image = ax.imshow(frames[0])
    title = ax.set_title("")

    def show(k: int):
        image.set_data(frames[k])
        h = hours[k]
        title.set_text(f"{env.scenario.name}  {int(h) % 24:02d}:{round(h % 1 * 60):02d}  SINR")
        return image, title

    anim = animation.FuncAnimation(fig, show, frames=len(frames), blit=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = animation.PillowWriter(fps=8) if out.suffix == ".gif" else animation.FFMpegWriter(8)
    anim.save(out, writer=writer)
    plt.close(fig)
    return out
