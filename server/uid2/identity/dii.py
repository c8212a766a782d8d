"""DII normalisation and hashing: the rules live in :mod:`segments.dii`, beside the loader that
hashes DII rows as it reads them (``segments/`` never imports ``server/``); re-exported here for
the identity jobs."""

from segments.dii import (
    DII_KINDS,
    HASH_KINDS,
    DiiKind,
    InvalidDii,
    dii_id,
    hash_dii,
    hash_normalised,
    normalise_email,
    normalise_phone,
    split_dii_id,
)

__all__ = [
    "DII_KINDS",
    "HASH_KINDS",
    "DiiKind",
    "InvalidDii",
    "dii_id",
    "hash_dii",
    "hash_normalised",
    "normalise_email",
    "normalise_phone",
    "split_dii_id",
]
