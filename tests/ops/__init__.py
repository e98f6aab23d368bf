"""Operations tests (SPEC §3-§5): demo, health and metrics, state file, SIGHUP reload."""
