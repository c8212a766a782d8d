"""The GPP bit-level data types, read from base64url text: one cursor, every read bounded.

Global-Privacy-Platform ``Core/Consent String Specification.md`` ("Data Types"): a section is
base64url (no padding) of a bit string; fields are ``Int(n)``, ``Boolean``, ``Bitfield(n)``,
Fibonacci integers, ``Range (Fibonacci)``, ``OptimizedRange`` and ``N-ArrayOfRanges(X, Y)``. The
GPP header, the US sections, their state-section headers and Canada's TCF all share them, so
they live here once. Every read raises :class:`GppError` instead of running past the end: a
truncated string is *malformed*, never silently zero-filled (what some decoders do).
"""

from __future__ import annotations

from typing import Final

ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SIX_BITS: Final = {c: format(i, "06b") for i, c in enumerate(ALPHABET)}
MAX_RANGE_ID: Final = 65535  # vendor ids are 16-bit; bounds range expansion on garbage


class GppError(ValueError):
    """A string or section that does not decode (never escapes the privacy package)."""


class Bits:
    """A cursor over the bit string of one base64url segment."""

    __slots__ = ("bits", "pos")

    def __init__(self, encoded: str) -> None:
        try:
            self.bits = "".join([_SIX_BITS[c] for c in encoded])
        except KeyError:
            raise GppError("not base64url") from None
        self.pos = 0

    def __len__(self) -> int:
        return len(self.bits)

    def remaining(self) -> int:
        return len(self.bits) - self.pos

    def peek(self, n: int) -> int:
        if self.pos + n > len(self.bits):
            raise GppError("truncated")
        if n == 0:
            return 0
        return int(self.bits[self.pos : self.pos + n], 2)

    def read(self, n: int) -> int:
        value = self.peek(n)
        self.pos += n
        return value

    def flags(self, n: int) -> tuple[bool, ...]:
        """A ``Bitfield(n)``: bit *i* is item *i + 1*."""
        if self.pos + n > len(self.bits):
            raise GppError("truncated")
        field = tuple(bit == "1" for bit in self.bits[self.pos : self.pos + n])
        self.pos += n
        return field

    def rest_is_padding(self) -> bool:
        """Whether everything after the cursor is zero fill (an encoder pads to whole characters)."""
        return "1" not in self.bits[self.pos :]

    def fibonacci(self) -> int:
        """A Fibonacci code word: bits weigh 1, 2, 3, 5, 8, …; the word ends at the first '11'."""
        end = self.bits.find("11", self.pos)
        if end < 0:
            raise GppError("unterminated fibonacci integer")
        value, a, b = 0, 1, 2
        for bit in self.bits[self.pos : end + 1]:
            if bit == "1":
                value += a
            a, b = b, a + b
        self.pos = end + 2
        return value

    def fibonacci_range_has(self, wanted: int) -> bool:
        """Read a ``Range (Fibonacci)`` — int(12) count, then per item a group bit, the Fibonacci offset
        from the previous id and, for a group, the Fibonacci length — and say whether it holds
        ``wanted``. Never expanded into a set: a garbage count must not cost memory."""
        found = False
        last = 0
        for _ in range(self.read(12)):
            is_group = self.read(1)
            start = last + self.fibonacci()
            end = start + self.fibonacci() if is_group else start
            if end > MAX_RANGE_ID:
                raise GppError("range id out of bounds")
            found = found or start <= wanted <= end
            last = end
        return found

    def int_range_has(self, wanted: int) -> bool:
        """The legacy ``Range(Int)`` (iabgpp's pre-fix Canada encoder): int(12) count, then per item a
        group bit and int(16) id(s)."""
        found = False
        for _ in range(self.read(12)):
            is_group = self.read(1)
            start = self.read(16)
            end = self.read(16) if is_group else start
            if end < start:
                raise GppError("backwards int range")
            found = found or start <= wanted <= end
        return found

    def optimized_range_has(self, wanted: int, *, legacy: bool = False) -> bool:
        """``OptimizedRange`` as the IAB encoders write it — int(16) MaxId, a Boolean IsRange, then a
        Fibonacci range (``legacy``: an int range) or a MaxId-bit bitfield — holds ``wanted``?"""
        max_id = self.read(16)
        if self.read(1):
            return self.int_range_has(wanted) if legacy else self.fibonacci_range_has(wanted)
        field = self.flags(max_id)
        return 1 <= wanted <= max_id and field[wanted - 1]
