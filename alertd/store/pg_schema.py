"""The PostgreSQL schema, as numbered migrations applied in order at open.

`alertd_migrations` records each version applied. Replicas starting together migrate one at
a time: the migration runs in one transaction holding `pg_advisory_xact_lock`, a lock that
ends with its transaction (so nothing outlives it on a pooled session, unlike a session
lock). A database whose schema is newer than this alertd knows is refused, never changed.

Tables (times are `timestamptz`; money is `text` holding `str(Decimal)`, checked to be a number:
`numeric` would keep the value but not how it was written, "1.5E+3" reading back as 1500):
  alertd_lease          the leadership lease: holder, fencing epoch, expiry by the DB's clock
  alertd_samples        raw readings, (provider, at)
  alertd_summaries      hourly summaries of readings past `history_retention`
  alertd_events         rises of a balance (top-ups, resets)
  alertd_checks         each check's condition; alertd_sent its notification log per destination
  alertd_notifications  every notification that went out (append-only)
  alertd_claims         a notification claimed before it is sent, marked sent after (SPEC §7)
"""

from __future__ import annotations

from typing import Any

import psycopg

from alertd.store.base import StoreError

LOCK_KEY = 0x616C65727464  # "alertd": the migration lock, transaction-scoped

MIGRATIONS: tuple[str, ...] = (
    # 1: everything of SPEC §6 and §7
    """
    CREATE TABLE alertd_lease (
        name text PRIMARY KEY,
        holder text NOT NULL,
        epoch bigint NOT NULL,
        acquired_at timestamptz NOT NULL,
        renewed_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
    );
    CREATE TABLE alertd_samples (
        provider text NOT NULL,
        at timestamptz NOT NULL,
        amount text NOT NULL CHECK (amount::numeric IS NOT NULL),
        unit text NOT NULL,
        capacity text CHECK (capacity::numeric IS NOT NULL OR capacity IS NULL),
        PRIMARY KEY (provider, at)
    );
    CREATE TABLE alertd_summaries (
        provider text NOT NULL,
        hour timestamptz NOT NULL,
        unit text NOT NULL,
        first text NOT NULL CHECK (first::numeric IS NOT NULL),
        last text NOT NULL CHECK (last::numeric IS NOT NULL),
        low text NOT NULL CHECK (low::numeric IS NOT NULL),
        high text NOT NULL CHECK (high::numeric IS NOT NULL),
        spent text NOT NULL CHECK (spent::numeric IS NOT NULL),
        readings integer NOT NULL,
        PRIMARY KEY (provider, hour)
    );
    CREATE TABLE alertd_events (
        provider text NOT NULL,
        at timestamptz NOT NULL,
        kind text NOT NULL,
        amount text NOT NULL CHECK (amount::numeric IS NOT NULL),
        balance text NOT NULL CHECK (balance::numeric IS NOT NULL),
        PRIMARY KEY (provider, at, kind)
    );
    CREATE TABLE alertd_checks (
        provider text NOT NULL,
        check_name text NOT NULL,
        severity text NOT NULL,
        detail text NOT NULL,
        since timestamptz NOT NULL,
        failures integer NOT NULL,
        PRIMARY KEY (provider, check_name)
    );
    CREATE TABLE alertd_sent (
        provider text NOT NULL,
        check_name text NOT NULL,
        destination text NOT NULL,
        severity text NOT NULL,
        at timestamptz NOT NULL,
        PRIMARY KEY (provider, check_name, destination),
        FOREIGN KEY (provider, check_name) REFERENCES alertd_checks ON DELETE CASCADE
    );
    CREATE TABLE alertd_notifications (
        id bigserial PRIMARY KEY,
        provider text NOT NULL,
        check_name text NOT NULL,
        destination text NOT NULL,
        reason text NOT NULL,
        severity text NOT NULL,
        at timestamptz NOT NULL,
        title text NOT NULL
    );
    CREATE INDEX alertd_notifications_provider_at ON alertd_notifications (provider, at);
    CREATE TABLE alertd_claims (
        key text PRIMARY KEY,
        provider text NOT NULL,
        check_name text NOT NULL,
        destination text NOT NULL,
        reason text NOT NULL,
        severity text NOT NULL,
        holder text NOT NULL,
        epoch bigint NOT NULL,
        claimed_at timestamptz NOT NULL,
        sent_at timestamptz,
        attempts integer NOT NULL DEFAULT 1
    );
    CREATE INDEX alertd_claims_unsent ON alertd_claims (claimed_at) WHERE sent_at IS NULL;
    """,
)
VERSION = len(MIGRATIONS)


async def migrate(conn: psycopg.AsyncConnection[Any]) -> int:
    """Brings the schema to `VERSION`; returns how many migrations it applied.
    StoreError when the database holds a newer schema."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS alertd_migrations ("
            " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        row = await (
            await conn.execute("SELECT coalesce(max(version), 0) FROM alertd_migrations")
        ).fetchone()
        current = int(row[0]) if row else 0
        if current > VERSION:
            raise StoreError(
                f"the database's alertd schema is version {current}, newer than this alertd"
                f" knows ({VERSION}): upgrade alertd"
            )
        for version in range(current + 1, VERSION + 1):
            await conn.execute(MIGRATIONS[version - 1].encode())
            await conn.execute("INSERT INTO alertd_migrations (version) VALUES (%s)", (version,))
        return VERSION - current
