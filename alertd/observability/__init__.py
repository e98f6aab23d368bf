"""Logs, metrics and health: what operators see of a running alertd."""
