"""End-to-end tests: `alertd run` as a subprocess against the simulator and real receivers."""
