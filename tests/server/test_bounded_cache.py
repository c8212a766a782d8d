"""segments.bounded.BoundedCache: the one memo type of the hot path, bounded by entries and entry size."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from segments.bounded import BoundedCache


def test_remembers_and_forgets_nothing_below_its_bounds() -> None:
    cache: BoundedCache[str, int] = BoundedCache(max_entries=3, max_entry_size=4)
    assert cache.put("a", 1, size=1) and cache.put("b", 2, size=4)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, 2, None)
    assert "a" in cache and len(cache) == 2 and sorted(cache) == ["a", "b"]


def test_an_entry_over_the_size_bound_is_never_kept() -> None:
    cache: BoundedCache[str, int] = BoundedCache(max_entries=3, max_entry_size=4)
    assert cache.put("long", 1, size=5) is False
    assert cache.get("long") is None and len(cache) == 0


def test_a_full_cache_is_emptied_before_a_new_key() -> None:
    cache: BoundedCache[int, int] = BoundedCache(max_entries=2, max_entry_size=0)
    cache.put(1, 1, 0)
    cache.put(2, 2, 0)
    cache.put(2, 3, 0)  # an existing key is replaced in place
    assert len(cache) == 2 and cache.get(2) == 3
    cache.put(3, 3, 0)
    assert list(cache) == [3]


@pytest.mark.parametrize(("entries", "size"), [pytest.param(0, 1, id="no-entries"),
                                               pytest.param(1, -1, id="negative-size")])
def test_nonsense_bounds_are_refused(entries: int, size: int) -> None:
    with pytest.raises(ValueError, match="bounded cache"):
        BoundedCache(entries, size)


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 10))))
def test_never_holds_more_than_its_bounds(puts: list[tuple[int, int]]) -> None:
    cache: BoundedCache[int, int] = BoundedCache(max_entries=8, max_entry_size=5)
    for key, size in puts:
        kept = cache.put(key, key, size)
        assert kept == (size <= 5) and len(cache) <= 8
        if kept:
            assert cache.get(key) == key
