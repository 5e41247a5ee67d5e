"""Content as data: one TOML file per language, the same ids in each."""
