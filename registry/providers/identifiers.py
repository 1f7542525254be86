"""Identifier schemes: validation and normalisation (reference/identifier_schemes.tsv).

A normalised value is what lookups compare; two spellings of one identifier normalise alike.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import idna
from stdnum import lei as stdnum_lei
from stdnum.eu import vat as stdnum_vat
from stdnum.exceptions import ValidationError as StdnumError


class InvalidIdentifier(ValueError):
    """The identifier cannot be accepted; the message says why in plain words."""


_DID = re.compile(r"^did:([a-z0-9]+):((?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})*(?::(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})*)*)$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PLAIN_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN_HOST = re.compile(rf"^{_PLAIN_LABEL}(?:\.{_PLAIN_LABEL})*$")
_NOT_A_DOMAIN = "not a valid domain name: use labels of letters, digits and hyphens, like learn.example"
_ROR = re.compile(r"^0[0-9a-hjkmnp-tv-z]{6}[0-9]{2}$")
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def _did(value: str) -> str:
    if not value[:4].lower() == "did:":
        raise InvalidIdentifier("a DID starts with 'did:' followed by a method name, e.g. did:web:learn.example")
    parts = value.split(":", 2)
    if len(parts) < 3 or not parts[2]:
        raise InvalidIdentifier("a DID needs a method and a method-specific id, e.g. did:key:z6Mk...")
    method = parts[1].lower()
    specific = parts[2]
    if method == "web":
        host, _, path = specific.partition(":")
        specific = host.lower() + (":" + path if path else "")
    normalised = f"did:{method}:{specific}"
    if not _DID.match(normalised) or normalised.endswith(":"):
        raise InvalidIdentifier(
            "not a valid DID: the method name may hold only lower-case letters and digits, and the "
            "method-specific id only letters, digits, '.', '-', '_', ':' and %-escapes"
        )
    return normalised


def _host(host: str) -> str:
    host = host.strip().rstrip(".")
    if not host:
        raise InvalidIdentifier("the domain name is empty")
    # Plain ASCII letter-digit-hyphen names are their own IDNA form once lower-cased; skipping idna for
    # them matters because every verdict lookup normalises its identifier.
    lowered = host.lower()
    if len(lowered) <= 253 and "--" not in lowered and _PLAIN_HOST.match(lowered):
        if "." not in lowered:
            raise InvalidIdentifier(_NOT_A_DOMAIN)
        return lowered
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as error:
        raise InvalidIdentifier(f"not a valid domain name: {error}") from None
    labels = ascii_host.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        raise InvalidIdentifier(_NOT_A_DOMAIN)
    return ascii_host


def _url(value: str) -> str:
    parts = urlsplit(value.strip())
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise InvalidIdentifier("an issuer URL must start with https:// or http://")
    if not parts.hostname:
        raise InvalidIdentifier("an issuer URL needs a host name, e.g. https://learn.example/issuer")
    try:
        port = parts.port
    except ValueError:
        raise InvalidIdentifier("the URL's port is not a number between 0 and 65535") from None
    host = _host(parts.hostname)
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, host, path, parts.query, ""))


def _pattern(regex: str, message: str, transform: Callable[[str], str]) -> Callable[[str], str]:
    compiled = re.compile(regex)

    def normalise(value: str) -> str:
        normalised = transform(value.strip())
        if not compiled.match(normalised):
            raise InvalidIdentifier(message)
        return normalised

    return normalise


def _ror(value: str) -> str:
    bare = value.strip().lower()
    for prefix in ("https://ror.org/", "http://ror.org/", "ror.org/"):
        if bare.startswith(prefix):
            bare = bare[len(prefix) :]
    if not _ROR.match(bare):
        raise InvalidIdentifier("a ROR id is 9 characters: '0', six base-32 characters and two check digits")
    number = 0
    for char in bare[1:7]:
        number = number * 32 + _CROCKFORD.index(char)
    if f"{98 - (number * 100) % 97:02d}" != bare[7:]:
        raise InvalidIdentifier("the ROR id's check digits do not match")
    return bare


_LEI_CHARS = re.compile(r"^[0-9A-Z]{20}$")


def _lei(value: str) -> str:
    # stdnum's own compact form (no spaces or hyphens, upper case), without its slower cleaning.
    compact = value.replace(" ", "").replace("-", "").strip().upper()
    if not _LEI_CHARS.match(compact):
        raise InvalidIdentifier("an LEI has exactly 20 letters and digits")
    try:
        return str(stdnum_lei.validate(compact))
    except StdnumError:
        raise InvalidIdentifier("the LEI's check digits are wrong (ISO 17442)") from None


# Greece writes its VAT numbers with EL, the prefix VIES uses; GR is the same number.
_VAT_PREFIXES = frozenset(code.upper() for code in stdnum_vat.MEMBER_STATES) | {"EL"}
_VAT_NUMBER = re.compile(r"^[A-Z]{2}[0-9A-Z+*]{2,13}$")
_VAT_SEPARATORS = re.compile(r"[\s,./-]")
_NOT_A_VAT_NUMBER = "an EU VAT number starts with a member state's code, e.g. ATU12345678"


def _eu_vat(value: str) -> str:
    # Lookups try every scheme on an identifier without one; these checks turn most away before
    # stdnum's slower parsing.
    bare = _VAT_SEPARATORS.sub("", value).upper()
    if bare[:2] not in _VAT_PREFIXES or len(bare) < 4:
        raise InvalidIdentifier(_NOT_A_VAT_NUMBER)
    if not _VAT_NUMBER.match(bare):
        raise InvalidIdentifier("an EU VAT number holds only letters and digits after the country code")
    if bare[:2] == "GR":
        bare = "EL" + bare[2:]
    try:
        return str(stdnum_vat.compact(bare))
    except StdnumError:
        raise InvalidIdentifier(_NOT_A_VAT_NUMBER) from None


_PIC_SEPARATORS = re.compile(r"[\s.]")
_PIC = re.compile(r"^\d{9}$")


def _eu_pic(value: str) -> str:
    digits = _PIC_SEPARATORS.sub("", value)
    if not _PIC.match(digits):
        raise InvalidIdentifier("an EU PIC is 9 digits")
    return digits


def _domain(value: str) -> str:
    bare = value.strip().strip("[]").rstrip(".")
    try:
        ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        pass
    else:
        raise InvalidIdentifier("an IP address is not a domain name: give the name the provider's site is served under")
    host = _host(value.lower())
    # No top-level domain is numeric; a name ending in digits is an IPv4 address in another spelling (127.1).
    if host.rsplit(".", 1)[-1].isdigit():
        raise InvalidIdentifier("an IP address is not a domain name: give the name the provider's site is served under")
    return host


def _scoped(kind: str, example: str) -> Callable[[str], str]:
    def normalise(value: str) -> str:
        stripped = value.strip()
        prefix, sep, rest = stripped.partition(":")
        if not sep or not prefix or not rest.strip() or " " in prefix:
            raise InvalidIdentifier(f"a {kind} identifier is written PREFIX:VALUE, e.g. {example}")
        return f"{prefix.upper()}:{rest.strip()}"

    return normalise


SCHEMES: dict[str, Callable[[str], str]] = {
    "did": _did,
    "url": _url,
    "domain": _domain,
    "deqar": _pattern(r"^DEQARINST\d{4,}$", "a DEQAR institution id looks like DEQARINST0123", str.upper),
    "eter": _pattern(r"^[A-Z]{2}\d{4}$", "an ETER/OrgReg id is a country code and four digits, e.g. AT0005", str.upper),
    "erasmus": _pattern(
        r"^[A-Z]{1,3} +[A-Z][A-Z-]*\d{2,3}$",
        "an Erasmus code is a country letter code, spaces and a city code with digits, e.g. A WIEN01",
        str.upper,
    ),
    "erasmus-charter": _pattern(
        r"^\d{5,6}-EPP-\d-\d{4}-\d-[A-Z]{2}-EPPKA\d-ECHE$",
        "an ECHE number looks like 123456-EPP-1-2014-1-AT-EPPKA3-ECHE",
        str.upper,
    ),
    "schac": lambda value: _host(value.lower()),
    "ror": _ror,
    "eu-pic": _eu_pic,
    "eu-vat": _eu_vat,
    "lei": _lei,
    "whed": _pattern(r"^IAU-\d{3,}$", "a WHED id looks like IAU-000123", str.upper),
    "national": _scoped("national", "FR-SIREN:123456789"),
    "local": _scoped("local (agency-assigned)", "NVAO:INST-42"),
}

MAX_IDENTIFIER_LENGTH = 2000


def normalise(scheme: str, value: str) -> str:
    """The normalised form of value in scheme; InvalidIdentifier says what is wrong."""
    rule = SCHEMES.get(scheme)
    if rule is None:
        raise InvalidIdentifier(f"unknown identifier scheme {scheme!r}; known schemes: {', '.join(SCHEMES)}")
    if not value or not value.strip():
        raise InvalidIdentifier("the identifier is empty")
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise InvalidIdentifier(f"the identifier is longer than {MAX_IDENTIFIER_LENGTH} characters")
    return rule(value)


def guess_scheme(value: str) -> str | None:
    """The scheme an identifier's own syntax names, or None when it could be several."""
    lowered = value.strip().lower()
    if lowered.startswith("did:"):
        return "did"
    if lowered.startswith(("http://", "https://")):
        if lowered.startswith(("https://ror.org/", "http://ror.org/")):
            return "ror"
        return "url"
    return None
