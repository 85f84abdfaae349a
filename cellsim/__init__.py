"""cellsim: a fast, 3GPP-calibrated simulator of antenna tilt in mobile networks."""

__version__ = "0.1.0"

from cellsim.registration import register_envs as _register_envs

_register_envs()
