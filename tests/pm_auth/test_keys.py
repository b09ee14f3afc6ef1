"""Key files: PEM and JWKS loaded into keys bound to one algorithm; unsafe files refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, rsa
from cryptography.x509.oid import NameOID

from pm_auth.keys import KeyFileError, load_jwks_file, load_pem_file, load_public_keys
from pm_auth.tokens import AuthConfig, TokenVerifier, load_or_create_signing_key
from pm_core.errors import UnauthenticatedError
from tests.pm_auth.signing import ASYMMETRIC, KeyRing, claims, write_jwks


def _verifier(keys: Any) -> TokenVerifier:
    return TokenVerifier(AuthConfig(public_keys=tuple(keys)))


def _pem(public: Any) -> bytes:
    return public.public_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --- PEM --------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_load_pem_file_binds_the_key_to_its_algorithm(
    ring: KeyRing, tmp_path: Path, algorithm: str
) -> None:
    signer = ring.right[algorithm]
    path = tmp_path / "key.pem"
    path.write_bytes(signer.public_pem)

    key = load_pem_file(path)

    assert (key.algorithm, key.kid) == (algorithm, None)
    token = signer.sign(claims(iss=None, aud=None), headers={})
    assert _verifier([key]).verify(token).user_id == "alice"


def test_load_pem_file_with_a_certificate_uses_its_public_key(
    ring: KeyRing, tmp_path: Path
) -> None:
    signer = ring.right["ES256"]
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example.test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(signer.private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(signer.private, hashes.SHA256())
    )
    path = tmp_path / "idp.crt"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))

    key = load_pem_file(path)

    assert key.algorithm == "ES256"
    token = signer.sign(claims(iss=None, aud=None), headers={})
    assert _verifier([key]).verify(token).tenant_id == "acme"


def _private_pem(ring: KeyRing) -> bytes:
    return ring.right["RS256"].private.private_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


BAD_PEMS: list[tuple[str, Any, str]] = [
    ("private key", _private_pem, "private key"),
    ("two keys", lambda r: r.right["RS256"].public_pem + r.second_rsa.public_pem, "2 PEM blocks"),
    ("not PEM", lambda r: b"hello", "0 PEM blocks"),
    (
        "broken PEM",
        lambda r: b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "not a PEM public key",
    ),
    (
        "RSA 1024",
        lambda r: _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()),
        "1024 bits",
    ),
    (
        "EC P-384",
        lambda r: _pem(ec.generate_private_key(ec.SECP384R1()).public_key()),
        "ES256 needs P-256",
    ),
]


@pytest.mark.parametrize(("case", "content", "reason"), BAD_PEMS, ids=[c[0] for c in BAD_PEMS])
def test_load_pem_file_refuses_unusable_file(
    ring: KeyRing, tmp_path: Path, case: str, content: Any, reason: str
) -> None:
    path = tmp_path / "key.pem"
    data: bytes = content(ring)
    path.write_bytes(data)

    with pytest.raises(KeyFileError, match=reason) as info:
        load_pem_file(path)

    assert str(path) in str(info.value)
    assert "PRIVATE KEY" not in str(info.value)


def test_load_pem_file_that_is_missing_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read"):
        load_pem_file(tmp_path / "absent.pem")


def test_load_pem_file_accepts_ed448_as_eddsa(tmp_path: Path) -> None:
    path = tmp_path / "ed448.pem"
    path.write_bytes(_pem(ed448.Ed448PrivateKey.generate().public_key()))
    assert load_pem_file(path).algorithm == "EdDSA"


# --- JWKS -------------------------------------------------------------------------------


def _jwks_of_every_type(ring: KeyRing) -> list[dict[str, Any]]:
    return [
        ring.right["RS256"].jwk(),
        ring.second_rsa.jwk(),
        ring.right["ES256"].jwk(),
        ring.right["EdDSA"].jwk(),
    ]


def test_load_jwks_file_binds_each_key_to_its_kid_and_algorithm(
    ring: KeyRing, tmp_path: Path
) -> None:
    keys = load_jwks_file(write_jwks(tmp_path / "jwks.json", _jwks_of_every_type(ring)))
    assert [(k.kid, k.algorithm) for k in keys] == [
        ("rs256-1", "RS256"),
        ("rs256-2", "RS256"),
        ("es256-1", "ES256"),
        ("eddsa-1", "EdDSA"),
    ]


@pytest.mark.parametrize("signer_name", ["first", "second"])
def test_jwks_with_several_keys_chooses_the_key_by_kid(
    ring: KeyRing, tmp_path: Path, signer_name: str
) -> None:
    verifier = _verifier(load_jwks_file(write_jwks(tmp_path / "j", _jwks_of_every_type(ring))))
    signer = ring.right["RS256"] if signer_name == "first" else ring.second_rsa
    other = ring.second_rsa if signer_name == "first" else ring.right["RS256"]
    good = signer.sign(claims(sub=signer_name, iss=None, aud=None))
    swapped_kid = signer.sign(claims(iss=None, aud=None), headers={"kid": other.kid})

    assert verifier.verify(good).user_id == signer_name
    with pytest.raises(UnauthenticatedError, match="bad signature"):
        verifier.verify(swapped_kid)
    with pytest.raises(UnauthenticatedError, match="unknown key id"):
        verifier.verify(signer.sign(claims(iss=None, aud=None), headers={"kid": "rs256-3"}))


def test_jwks_and_pem_together_pem_serves_tokens_without_kid(ring: KeyRing, tmp_path: Path) -> None:
    pem = tmp_path / "key.pem"
    pem.write_bytes(ring.right["ES256"].public_pem)
    jwks = write_jwks(tmp_path / "jwks.json", [ring.right["RS256"].jwk()])
    verifier = _verifier(load_public_keys(pem, jwks))

    no_kid = ring.right["ES256"].sign(claims(iss=None, aud=None), headers={})
    with_kid = ring.right["RS256"].sign(claims(iss=None, aud=None))

    assert verifier.verify(no_kid).user_id == "alice"
    assert verifier.verify(with_kid).user_id == "alice"


def test_load_public_keys_without_files_is_empty() -> None:
    assert load_public_keys() == ()


def _rsa_jwk(ring: KeyRing, **changes: Any) -> dict[str, Any]:
    entry = ring.right["RS256"].jwk()
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


SKIPPED_JWKS: list[tuple[str, Any]] = [
    ("encryption key", lambda r: _rsa_jwk(r, use="enc", kid="enc")),
    ("RS512 declared", lambda r: _rsa_jwk(r, alg="RS512", kid="rs512")),
    ("HS256 declared on RSA", lambda r: _rsa_jwk(r, alg="HS256", kid="confused")),
    ("key_ops without verify", lambda r: _rsa_jwk(r, key_ops=["encrypt"], kid="ops")),
    ("EC P-384", lambda r: {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA", "kid": "p384"}),
    ("X25519", lambda r: {"kty": "OKP", "crv": "X25519", "x": "AA", "kid": "x"}),
    ("unknown kty", lambda r: {"kty": "XYZ", "kid": "xyz"}),
]


@pytest.mark.parametrize(("case", "entry"), SKIPPED_JWKS, ids=[c[0] for c in SKIPPED_JWKS])
def test_load_jwks_file_skips_keys_pm_does_not_verify_with(
    ring: KeyRing, tmp_path: Path, case: str, entry: Any
) -> None:
    skipped = entry(ring)
    path = write_jwks(tmp_path / "jwks.json", [skipped, ring.right["ES256"].jwk()])

    keys = load_jwks_file(path)

    assert [k.kid for k in keys] == ["es256-1"]
    with pytest.raises(UnauthenticatedError, match="unknown key id"):
        _verifier(keys).verify(
            ring.right["RS256"].sign(claims(iss=None, aud=None), headers={"kid": skipped["kid"]})
        )


def _private_rsa_jwk(ring: KeyRing) -> dict[str, Any]:
    entry: dict[str, Any] = jwt.get_algorithm_by_name("RS256").to_jwk(
        ring.right["RS256"].private, as_dict=True
    )
    entry["kid"] = "leaked"
    return entry


def _b64_int(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()


BAD_JWKS: list[tuple[str, Any, str]] = [
    ("private key", lambda r: json.dumps({"keys": [_private_rsa_jwk(r)]}), "private or secret"),
    (
        "symmetric key",
        lambda r: json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldA", "kid": "s"}]}),
        "private or secret",
    ),
    (
        "duplicate kid",
        lambda r: json.dumps({"keys": [r.right["RS256"].jwk(), r.right["RS256"].jwk()]}),
        "kid already used",
    ),
    ("not JSON", lambda r: "{keys:", "not valid JSON"),
    ("not UTF-8", lambda r: b"\xff\xfe{", "not valid JSON"),
    ("no keys list", lambda r: json.dumps({"key": []}), '"keys" list'),
    ("a list", lambda r: json.dumps([r.right["RS256"].jwk()]), '"keys" list'),
    ("empty", lambda r: json.dumps({"keys": []}), "no usable signature key"),
    (
        "only skipped keys",
        lambda r: json.dumps({"keys": [_rsa_jwk(r, use="enc")]}),
        "no usable signature key",
    ),
    ("entry not an object", lambda r: json.dumps({"keys": ["rsa"]}), "not a JSON object"),
    ("kid not a string", lambda r: json.dumps({"keys": [_rsa_jwk(r, kid=7)]}), "kid must be"),
    ("RSA without n", lambda r: json.dumps({"keys": [_rsa_jwk(r, n=None)]}), "malformed RSA"),
    (
        "EC point off the curve",
        lambda r: json.dumps(
            {"keys": [{**r.right["ES256"].jwk(), "y": r.right["ES256"].jwk()["x"]}]}
        ),
        "malformed EC",
    ),
]


@pytest.mark.parametrize(("case", "content", "reason"), BAD_JWKS, ids=[c[0] for c in BAD_JWKS])
def test_load_jwks_file_refuses_unsafe_or_malformed_file(
    ring: KeyRing, tmp_path: Path, case: str, content: Any, reason: str
) -> None:
    path = tmp_path / "jwks.json"
    data = content(ring)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())

    with pytest.raises(KeyFileError, match=reason) as info:
        load_jwks_file(path)

    message = str(info.value)
    assert str(path) in message
    private = _private_rsa_jwk(ring)
    for member in ("n", "d", "p", "q"):
        assert private[member][:16] not in message


def test_pem_only_config_refuses_token_naming_a_kid(ring: KeyRing, tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(ring.right["RS256"].public_pem)
    token = ring.right["RS256"].sign(claims(iss=None, aud=None), headers={"kid": "idp-key"})

    with pytest.raises(UnauthenticatedError, match="unknown key id"):
        _verifier([load_pem_file(path)]).verify(token)


def test_signing_key_is_created_once_complete_and_private(tmp_path: Path) -> None:
    first = load_or_create_signing_key(tmp_path)
    assert len(first) == 32
    assert load_or_create_signing_key(tmp_path) == first
    key_file = tmp_path / "signing-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["signing-key"]  # no temporary left


@pytest.mark.parametrize("content", ["", "zz", "ab" * 8])
def test_truncated_or_corrupt_signing_key_is_refused(tmp_path: Path, content: str) -> None:
    (tmp_path / "signing-key").write_text(content)
    with pytest.raises(ValueError, match="32-byte hex key"):
        load_or_create_signing_key(tmp_path)
