"""Identifiers: prefixed, 20 base62 characters, each character uniform."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from steller_server.domain.ids import BASE62, new_id, random_base62


def test_ids_are_prefixed_base62_and_distinct() -> None:
    ids = [new_id("ord") for _ in range(2000)]
    assert all(re.fullmatch(r"ord_[0-9A-Za-z]{20}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    with pytest.raises(ValueError, match="unknown id prefix"):
        new_id("xyz")


def test_every_character_is_equally_likely() -> None:
    # 256 is not a multiple of 62: without skipping bytes >= 248, '0'..'7' would come up 25 %
    # more often than the rest. 400,000 characters: expected 6,452 each, sd ~79; 10 % is 8 sd.
    counts = Counter("".join(random_base62(20) for _ in range(20_000)))
    assert set(counts) == set(BASE62)
    expected = 400_000 / 62
    assert all(abs(n - expected) < expected * 0.10 for n in counts.values()), counts
