"""Register cellsim's environments with Gymnasium; idempotent, run on `import cellsim`."""

from __future__ import annotations

ENV_IDS = ("cellsim/Tilt-v0",)


def register_envs() -> None:
    import gymnasium as gym

    if "cellsim/Tilt-v0" not in gym.registry:
        gym.register(
            id="cellsim/Tilt-v0",
            entry_point="cellsim.env.tilt_env:TiltEnv",
            disable_env_checker=False,
        )
