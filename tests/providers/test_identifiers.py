from __future__ import annotations

import pytest

from registry.providers.identifiers import InvalidIdentifier, normalise


class TestEuVat:
    def test_a_valid_number_is_compacted(self) -> None:
        assert normalise("eu-vat", "ATU 135.856.27") == "ATU13585627"

    @pytest.mark.parametrize("value", ["p2-73b22.bench.example", "QQ123456789"])
    def test_a_prefix_that_is_no_country_is_an_invalid_identifier(self, value: str) -> None:
        with pytest.raises(InvalidIdentifier):
            normalise("eu-vat", value)
