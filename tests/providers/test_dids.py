"""DID resolution pieces that need no server: did:key decoding, did:web addresses, JWS checks."""

from __future__ import annotations

import base64
import json

import base58
import pytest
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, OKPKey

from registry.providers import dids
from registry.providers.fetch import FetchFailed, fetch
from registry.settings import Settings


def _b64(data: dict[str, str] | bytes) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class TestDidKey:
    def test_p256_vector_from_the_specification(self) -> None:
        jwk = dids.did_key_jwk("did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169")
        assert (jwk["kty"], jwk["crv"]) == ("EC", "P-256")
        assert jwk["x"] == "fyNYMN0976ci7xqiSdag3buk-ZCwgXU4kz9XNkBlNUI"

    @pytest.mark.parametrize(
        ("did", "message"),
        [
            ("did:key:mAbc", "base58btc"),
            ("did:key:z0OIl", "base58"),
            ("did:key:z" + base58.b58encode(b"\xe7\x01" + b"\x02" * 33).decode(), "Ed25519 and P-256"),
            ("did:key:z" + base58.b58encode(b"\xed\x01" + b"\x01" * 31).decode(), "Ed25519 and P-256"),
            ("did:key:z" + base58.b58encode(b"\x80\x24" + b"\x05" + b"\x00" * 32).decode(), "not a point"),
        ],
    )
    def test_malformed_keys_are_refused(self, did: str, message: str) -> None:
        with pytest.raises(dids.InvalidDid, match=message):
            dids.did_key_jwk(did)


class TestDidWebAddress:
    @pytest.mark.parametrize(
        ("did", "url"),
        [
            ("did:web:w3c-ccg.github.io", "https://w3c-ccg.github.io/.well-known/did.json"),
            ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
            ("did:web:example.com%3A3000", "https://example.com:3000/.well-known/did.json"),
        ],
    )
    def test_addresses_follow_the_method_specification(self, did: str, url: str) -> None:
        assert dids.did_web_url(did) == url

    def test_a_host_with_a_path_or_user_is_refused(self) -> None:
        with pytest.raises(dids.InvalidDid):
            dids.did_web_url("did:web:evil.example%2F@internal")


class TestVerifyCompactJws:
    def test_unsigned_and_symmetric_tokens_are_refused(self) -> None:
        key = ECKey.generate_key("P-256")
        public = key.as_dict(private=False)
        unsigned = f"{_b64({'alg': 'none'})}.{_b64(b'challenge')}."
        assert not dids.verify_compact_jws(unsigned, public, "challenge")
        secret = OctKey.generate_key(256)
        hs256 = jws.serialize_compact({"alg": "HS256"}, "challenge", secret)
        assert not dids.verify_compact_jws(hs256, secret.as_dict(), "challenge")
        assert not dids.verify_compact_jws("not a jws", public, "challenge")

    def test_algorithm_must_fit_the_key(self) -> None:
        okp = OKPKey.generate_key("Ed25519")
        token = jws.serialize_compact({"alg": "Ed25519"}, "challenge", okp, registry=dids._REGISTRY)
        assert dids.verify_compact_jws(token, okp.as_dict(private=False), "challenge")
        assert not dids.verify_compact_jws(token, ECKey.generate_key("P-256").as_dict(private=False), "challenge")


class TestFetch:
    def test_only_https(self) -> None:
        with pytest.raises(FetchFailed, match="only https"):
            fetch("http://127.0.0.1:8400/x", Settings(allow_private_fetch=True))
