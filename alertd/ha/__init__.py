"""High availability on PostgreSQL (SPEC §7): the lease, the replica role, claims."""
