from __future__ import annotations

import idna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.providers.identifiers import InvalidIdentifier, normalise


class TestEuVat:
    def test_a_valid_number_is_compacted(self) -> None:
        assert normalise("eu-vat", "ATU 135.856.27") == "ATU13585627"

    @pytest.mark.parametrize("value", ["p2-73b22.bench.example", "QQ123456789"])
    def test_a_prefix_that_is_no_country_is_an_invalid_identifier(self, value: str) -> None:
        with pytest.raises(InvalidIdentifier):
            normalise("eu-vat", value)


class TestHosts:
    # No deadline: the suite shares its machine, and a slow example is not a wrong one.
    @settings(deadline=None)
    @given(st.from_regex(r"\A[A-Za-z0-9-]{1,12}(\.[A-Za-z0-9-]{1,12}){1,3}\.?\Z"))
    def test_the_ascii_fast_path_agrees_with_idna(self, host: str) -> None:
        try:
            expected: str | None = idna.encode(host.rstrip("."), uts46=True).decode("ascii")
        except idna.IDNAError:
            expected = None
        try:
            got: str | None = normalise("domain", host)
        except InvalidIdentifier:
            got = None
        if expected is not None and got is not None:
            assert got == expected
        else:
            # Where idna refuses, or our stricter label rule does, the identifier is refused either way.
            assert got is None
