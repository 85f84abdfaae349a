"""Agent definitions: hyperparameter files in rl-zoo3 layout (one per registered agent), sweep
files and example scripts; shipped in the wheel as `cellsim.agents`."""
