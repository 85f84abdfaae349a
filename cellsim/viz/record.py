"""Record an episode as an animated GIF (Pillow) or an MP4 (imageio-ffmpeg's bundled ffmpeg)
from env.render() frames, which already carry the clock, KPIs and tilts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import CellsimError
from cellsim.viz.frame import TitleStrip, frame_title

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
    """One episode of `policy`: an rgb_array frame at the start, every `every` steps and at
    the end (its clock the episode's end time: 24:00 for a day from midnight)."""
    env.render_mode = "rgb_array"
    obs, _ = env.reset(seed=seed)
    if hasattr(policy, "reset"):
        policy.reset()
    frames = [_rgb_frame(env)]
    while True:
        action, _ = policy.predict(obs, deterministic=True)
        obs, _, terminated, truncated, info = env.step(action)
        end = terminated or truncated
        if env.t % every == 0 or end:
            frame = _rgb_frame(env)
            if end:  # the day's end reads 24:00, not 00:00
                strip = TitleStrip(frame.shape[1])
                frame = strip.retitle(frame, frame_title(env.scenario.name, env.hour,
                                                         info["kpis"], end=True))  # fmt: skip
            frames.append(frame)
        if end:
            return frames


def _rgb_frame(env: TiltEnv) -> np.ndarray:
    frame = env.render()
    assert frame is not None  # render_mode "rgb_array" after reset(): always a frame
    return frame


def gif_palette(cmap: str = "viridis") -> Any:
    """One fixed GIF palette for every frame: 192 steps of the frames' colour map and 64 greys
    (text, outlines, background), so the colour bar stays continuous (a per-frame adaptive
    palette spends few entries on the map's ends and bands them)."""
    from matplotlib import colormaps
    from PIL import Image

    colours = (colormaps[cmap](np.linspace(0, 1, 192))[:, :3] * 255).round().astype(np.uint8)
    greys = np.repeat(np.linspace(0, 255, 64).round().astype(np.uint8)[:, None], 3, axis=1)
    palette = Image.new("P", (1, 1))
    palette.putpalette(np.concatenate([colours, greys]).ravel().tolist())
    return palette


def write_video(frames: list[np.ndarray], out: str | Path, fps: int = FPS) -> Path:
    """Frames to .gif (Pillow) or .mp4 (H.264 through imageio-ffmpeg)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".gif":
        from PIL import Image

        palette = gif_palette()
        images = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE)
                  for f in frames]  # fmt: skip
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
