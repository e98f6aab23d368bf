"""`alertd demo` and the provider simulator it runs against; used by tests and bench too,
never by the daemon itself."""
