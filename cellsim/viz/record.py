"""Record an episode as an animated GIF (Pillow) or an MP4 (imageio-ffmpeg's bundled ffmpeg)
from env.render() frames, which already carry the clock, KPIs and tilts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import CellsimError

FPS = 8


class Predictor(Protocol):
    """What drives an episode: a built-in policy or a trained SB3 model (their `predict`)."""

    def predict(self, observation: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]: ...


def mp4_writer_available() -> bool:
    """Whether an ffmpeg for MP4 is installed (imageio-ffmpeg ships one inside its wheel)."""
    try:
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return False
    return True


def episode_frames(
    env: TiltEnv, policy: Predictor, seed: int = 0, every: int = 1
) -> list[np.ndarray]:
    """One episode of `policy`: an rgb_array frame at the start and every `every` steps."""
    env.render_mode = "rgb_array"
    obs, _ = env.reset(seed=seed)
    if hasattr(policy, "reset"):
        policy.reset()
    frames = [_rgb_frame(env)]
    while True:
        action, _ = policy.predict(obs, deterministic=True)
        obs, _, terminated, truncated, _ = env.step(action)
        if env.t % every == 0:
            frames.append(_rgb_frame(env))
        if terminated or truncated:
            return frames


def _rgb_frame(env: TiltEnv) -> np.ndarray:
    frame = env.render()
    assert frame is not None  # render_mode "rgb_array" after reset(): always a frame
    return frame


def write_video(frames: list[np.ndarray], out: str | Path, fps: int = FPS) -> Path:
    """Frames to .gif (Pillow) or .mp4 (H.264 through imageio-ffmpeg)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".gif":
        from PIL import Image

        images = [Image.fromarray(f) for f in frames]
        images[0].save(out, save_all=True, append_images=images[1:], duration=1000 // fps,
                       loop=0)  # fmt: skip
        return out
    if not mp4_writer_available():
        raise CellsimError(f"--out {str(out)!r}: MP4 needs imageio-ffmpeg "
                           "(pip install imageio-ffmpeg); or use .gif")  # fmt: skip
    import imageio_ffmpeg

    h, w = frames[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(str(out), (w, h), fps=fps, macro_block_size=1)
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(f))
    writer.close()
    return out


def record_episode(
    env: TiltEnv, policy: Predictor, out: str | Path, seed: int = 0, every: int = 1
) -> Path:
    """Run one episode of `policy` and write its frames to `out` (.gif or .mp4)."""
    return write_video(episode_frames(env, policy, seed, every), out)
