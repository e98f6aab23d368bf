"""PURE: the decision logic of alertd (evaluation, alert state, the poll step, message text).

Nothing here imports IO, clocks or the config layer: see tests/test_architecture.py.
"""
