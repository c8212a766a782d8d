"""COPPA (``regs.coppa``): the request concerns a child under 13.

Raw ``int | None`` → ``bool``. Only ``0`` and absence mean "not COPPA": OpenRTB defines the
field as 0/1, so any other value is a broken signal and the safe reading is "child".
"""

from __future__ import annotations


def applies(coppa: object) -> bool:
    if coppa is None or coppa is False:
        return False
    return not (isinstance(coppa, int) and coppa == 0)
