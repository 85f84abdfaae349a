"""cellsim: a fast, 3GPP-calibrated simulator of antenna tilt in mobile networks."""

__version__ = "0.1.0"
