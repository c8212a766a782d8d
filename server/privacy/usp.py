"""US Privacy (CCPA) string: four characters, parsed by hand with named offsets.

Spec: InteractiveAdvertisingBureau/USPrivacy ``CCPA/US Privacy String.md``. ``1YYN`` = version 1,
notice given, **opted out of sale**, not LSPA-covered; ``1---`` = CCPA does not apply. The
string is tiny and stable, so (like Prebid Server's ``ccpa`` package) we parse it ourselves.

The spec allows exactly ``Y``, ``N`` and ``-`` in the three flag positions, so ``1y--``, ``1-y-``
or a padded ``" 1YNN "`` are *malformed* (Prebid Server rejects lower case too), and the configured
malformed rule (``usp_malformed_opt_out``) decides — never a guess at what the sender meant.
"""

from __future__ import annotations

import enum
from typing import Final

VERSION: Final = "1"
LENGTH: Final = 4
INDEX_VERSION: Final = 0
INDEX_NOTICE: Final = 1
INDEX_OPT_OUT_SALE: Final = 2
INDEX_LSPA: Final = 3
FLAG_VALUES: Final = frozenset("YN-")


class UspStatus(enum.Enum):
    ABSENT = "absent"  # no string (or an empty one — Index sends ``""`` for "none")
    NOT_APPLICABLE = "not_applicable"  # ``-`` in the opt-out position: CCPA does not apply
    NO_OPT_OUT = "no_opt_out"
    OPT_OUT = "opt_out"
    INVALID = "invalid"  # wrong length, version or characters (lower case and spaces included)


def parse(raw: object) -> UspStatus:
    """Classify a raw ``us_privacy`` value. Never raises. Empty or blank means absent."""
    if raw is None:
        return UspStatus.ABSENT
    if not isinstance(raw, str):
        return UspStatus.INVALID
    text = raw
    if not text.strip():
        return UspStatus.ABSENT
    if len(text) != LENGTH or text[INDEX_VERSION] != VERSION:
        return UspStatus.INVALID
    if any(c not in FLAG_VALUES for c in text[INDEX_NOTICE:]):
        return UspStatus.INVALID
    flag = text[INDEX_OPT_OUT_SALE]
    if flag == "Y":
        return UspStatus.OPT_OUT
    if flag == "N":
        return UspStatus.NO_OPT_OUT
    return UspStatus.NOT_APPLICABLE
