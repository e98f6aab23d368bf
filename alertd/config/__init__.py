"""The config file: its model, value types, loading and checks (SPEC §2)."""
