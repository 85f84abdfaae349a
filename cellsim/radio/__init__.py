"""Radio physics only: antenna patterns, path loss, shadowing, O2I, noise. No Gym, no files."""
