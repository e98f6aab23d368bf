"""alertd: watches prepaid API balances and tells ops once, clearly, in time."""

__version__ = "0.1.0"
