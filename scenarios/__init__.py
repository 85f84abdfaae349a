"""Built-in scenario files (TOML); shipped inside the wheel as cellsim.scenarios."""
