"""Limit Ad Tracking (``device.lmt``): the device asked not to be tracked by its ad id.

Raw ``int | None`` → ``bool``. As with COPPA, anything other than ``0`` or absence is read as
"limited": a garbage value must never widen what we may use. LMT only removes the ``ifa`` key
kind; it says nothing about other identifiers (Prebid Server scrubs the same way).
"""

from __future__ import annotations


def applies(lmt: object) -> bool:
    if lmt is None or lmt is False:
        return False
    return not (isinstance(lmt, int) and lmt == 0)
