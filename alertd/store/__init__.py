"""Where alertd remembers: see `alertd.store.base` for the interface."""
