"""The state edge: SQL tables declared through sqlmodel, SQLite or PostgreSQL, the lock, the
serial, alembic migrations. It hands the pure middle a read-only ``RecordedState`` and takes
writes as ``Change`` values, each committed with its change-log row in one transaction.
Reads and the lock use the driver directly (``connection``, ``reader``, ``lock``); SQLAlchemy
is imported only to write or migrate (``writer``), so a no-op plan or apply stays fast.
"""
