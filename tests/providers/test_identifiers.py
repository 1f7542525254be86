from __future__ import annotations

import csv
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.providers.identifiers import SCHEMES, InvalidIdentifier, guess_scheme, normalise


def _reference_examples() -> list[tuple[str, str]]:
    text = resources.files("registry.reference").joinpath("data", "identifier_schemes.tsv").read_text()
    return [(row["scheme"], row["example"]) for row in csv.DictReader(text.splitlines(), delimiter="\t")]


class TestNormalise:
    @pytest.mark.parametrize(("scheme", "example"), _reference_examples())
    def test_every_reference_example_is_accepted_and_stable(self, scheme: str, example: str) -> None:
        once = normalise(scheme, example)
        assert normalise(scheme, once) == once

    def test_every_reference_scheme_has_a_rule(self) -> None:
        assert {scheme for scheme, _ in _reference_examples()} == set(SCHEMES)

    @pytest.mark.parametrize(
        ("scheme", "spelling", "normalised"),
        [
            ("did", "DID:WEB:Learn.Example.EDU", "did:web:learn.example.edu"),
            ("did", "did:web:learn.example:Issuers:Main", "did:web:learn.example:Issuers:Main"),
            (
                "did",
                "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
                "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
            ),
            ("url", "HTTPS://Learn.Example.edu:443/issuer/", "https://learn.example.edu/issuer"),
            ("url", "http://learn.example.edu:80/", "http://learn.example.edu"),
            ("url", "https://learn.example.edu:8443/x", "https://learn.example.edu:8443/x"),
            ("domain", "Example.EDU.", "example.edu"),
            ("domain", "bücher.example", "xn--bcher-kva.example"),
            ("deqar", "deqarinst0123", "DEQARINST0123"),
            ("erasmus", "a wien01", "A WIEN01"),
            ("ror", "https://ror.org/03PRYDQ77", "03prydq77"),
            ("ror", "03prydq77", "03prydq77"),
            ("eu-pic", "999 999 999", "999999999"),
            ("eu-vat", "atu 123.456.78", "ATU12345678"),
            ("eu-vat", "EL094014201", "EL094014201"),
            ("eu-vat", "gr 094 014 201", "EL094014201"),
            ("lei", "5299-000j-2n45-ddne-4y28", "5299000J2N45DDNE4Y28"),
            ("lei", "5299000j2n45ddne4y28", "5299000J2N45DDNE4Y28"),
            ("national", "fr-siren:123456789", "FR-SIREN:123456789"),
        ],
    )
    def test_equivalent_spellings_map_to_one_value(self, scheme: str, spelling: str, normalised: str) -> None:
        assert normalise(scheme, spelling) == normalised

    @pytest.mark.parametrize(
        ("scheme", "value", "message"),
        [
            ("did", "did:web:", "method-specific id"),
            ("did", "did:We b:x", "not a valid DID"),
            ("did", "web:learn.example", "starts with 'did:'"),
            ("lei", "5299000J2N45DDNE4Y29", "check digits"),
            ("lei", "5299000J2N45", "20"),
            ("ror", "03prydq78", "check digits"),
            ("url", "ftp://learn.example", "https://"),
            ("domain", "not a domain", "domain name"),
            ("eu-vat", "US123456789", "member state"),
            ("eu-vat", "AT", "member state"),
            ("eu-vat", "ATU12_34", "only letters and digits"),
            ("eu-pic", "99999999", "9 digits"),
            ("lei", "5299000J2N45DDNE4Y2!", "20"),
            ("deqar", "INST0123", "DEQARINST"),
            ("local", "INST-42", "PREFIX:VALUE"),
            ("nope", "x", "unknown identifier scheme"),
            ("did", "   ", "empty"),
        ],
    )
    def test_malformed_identifiers_are_rejected_with_the_reason(self, scheme: str, value: str, message: str) -> None:
        with pytest.raises(InvalidIdentifier, match=message):
            normalise(scheme, value)

    def test_guess_scheme_reads_the_identifiers_own_syntax(self) -> None:
        assert guess_scheme("did:web:x.example") == "did"
        assert guess_scheme("https://x.example/issuer") == "url"
        assert guess_scheme("https://ror.org/03prydq77") == "ror"
        assert guess_scheme("DEQARINST0001") is None


_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
_hosts = st.lists(_label, min_size=2, max_size=4).map(".".join)
# No top-level domain is all digits: such a name is an IPv4 address in another spelling (127.1).
_domain_names = _hosts.filter(lambda host: not host.rsplit(".", 1)[-1].isdigit())


def _random_case(data: st.DataObject, text: str) -> str:
    flips = data.draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if flip else c for c, flip in zip(text, flips, strict=True))


class TestNormalisationProperties:
    @given(data=st.data(), host=_hosts, path=st.lists(_label, max_size=3))
    def test_did_web_normalises_once_and_ignores_host_case(
        self, data: st.DataObject, host: str, path: list[str]
    ) -> None:
        value = "did:web:" + ":".join([host, *path])
        spelled = "did:web:" + ":".join([_random_case(data, host), *path])
        assert normalise("did", spelled) == normalise("did", value)
        assert normalise("did", normalise("did", spelled)) == normalise("did", spelled)

    @given(data=st.data(), host=_hosts, path=st.lists(_label, max_size=3), slash=st.booleans())
    def test_urls_normalise_once_and_ignore_scheme_host_case_and_trailing_slash(
        self, data: st.DataObject, host: str, path: list[str], slash: bool
    ) -> None:
        plain = "https://" + host + "".join("/" + p for p in path)
        spelled = _random_case(data, "https://" + host) + ":443" + "".join("/" + p for p in path)
        spelled += "/" if slash else ""
        assert normalise("url", spelled) == normalise("url", plain)
        assert normalise("url", normalise("url", spelled)) == normalise("url", plain)

    @given(data=st.data(), host=_domain_names, dot=st.booleans())
    def test_domains_normalise_once(self, data: st.DataObject, host: str, dot: bool) -> None:
        spelled = _random_case(data, host) + ("." if dot else "")
        assert normalise("domain", spelled) == host
        assert normalise("domain", normalise("domain", spelled)) == host

    @given(labels=st.lists(_label, min_size=1, max_size=3), last=st.integers(0, 2**32))
    def test_a_name_ending_in_digits_is_not_a_domain(self, labels: list[str], last: int) -> None:
        with pytest.raises(InvalidIdentifier, match="an IP address is not a domain name"):
            normalise("domain", ".".join([*labels, str(last)]))

    @given(scheme=st.sampled_from(sorted(SCHEMES)), value=st.text(min_size=1, max_size=60))
    def test_normalising_twice_changes_nothing_for_any_accepted_input(self, scheme: str, value: str) -> None:
        try:
            once = normalise(scheme, value)
        except InvalidIdentifier:
            return
        assert normalise(scheme, once) == once
