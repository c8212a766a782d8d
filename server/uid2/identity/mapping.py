"""``<data_dir>/identity.sqlite``: stored by :mod:`segments.identity_db` (the loader writes DII rows
into it, and ``segments/`` never imports ``server/``); re-exported here for the identity jobs."""

from segments.identity_db import FILENAME, SCHEMA, IdentityDB, LoadSession, Members, connect

__all__ = ["FILENAME", "SCHEMA", "IdentityDB", "LoadSession", "Members", "connect"]
