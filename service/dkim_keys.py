"""DKIM keys: read (and judged) from the files ``DKIM_PRIVATE_KEY`` and ``DKIM_ED25519_KEY``
name, made new for ``coursemail dkim new``, and the DNS TXT record each one needs published
at ``<selector>._domainkey.<domain>`` (RFC 6376 3.6.1; ed25519: RFC 8463)."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from service.variables import ConfigError

#: The smallest RSA key providers accept without complaint, and the size we make.
MIN_RSA_BITS = 2048
#: The longest string one TXT character-string holds; longer records are split in several.
TXT_CHUNK = 255


def read_rsa_key(name: str, path: Path) -> bytes:
    """The PEM of an RSA key fit to sign with, or ``ConfigError`` naming the setting."""
    data = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise ConfigError(
            f"{name}: {path} is not a PEM private key without a password ({error})"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{name}: {path} must hold an RSA key (ed25519 goes in DKIM_ED25519_KEY)")
    if key.key_size < MIN_RSA_BITS:
        raise ConfigError(
            f"{name}: {path} is a {key.key_size}-bit key; use {MIN_RSA_BITS} bits or more"
        )
    # dkimpy reads PKCS#1 ("BEGIN RSA PRIVATE KEY") most reliably
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def read_ed25519_key(name: str, path: Path) -> bytes:
    """An ed25519 key as dkimpy signs with it (its 32-byte seed in base64), read from a PEM
    file or from that base64 line."""
    data = path.read_bytes().strip()
    if data.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as error:
            raise ConfigError(f"{name}: {path} is not a PEM private key ({error})") from None
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ConfigError(f"{name}: {path} must hold an ed25519 key")
        seed = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return base64.b64encode(seed)
    try:
        if len(base64.b64decode(data, validate=True)) == 32:
            return data
    except ValueError:
        pass
    raise ConfigError(f"{name}: {path} must hold an ed25519 key (PEM, or its seed in base64)")


@dataclass(frozen=True)
class NewKey:
    path: Path
    #: the name to publish it at, and the TXT record's value
    name: str
    record: str


def _write_private(path: Path, data: bytes) -> None:
    """Written 0600 from the first byte, never readable by others even for a moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def new_rsa(path: Path, selector: str, domain: str) -> NewKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=MIN_RSA_BITS)
    _write_private(
        path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return NewKey(path, record_name(selector, domain), rsa_record(public))


def new_ed25519(path: Path, selector: str, domain: str) -> NewKey:
    key = ed25519.Ed25519PrivateKey.generate()
    _write_private(
        path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return NewKey(
        path,
        record_name(selector, domain),
        f"v=DKIM1; k=ed25519; p={base64.b64encode(public).decode()}",
    )


def record_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{domain}"


def rsa_record(public_der: bytes) -> str:
    return f"v=DKIM1; k=rsa; p={base64.b64encode(public_der).decode()}"


def record_for(path: Path, *, ed25519_key: bool = False) -> str:
    """The TXT value to publish for the private key in ``path``."""
    if ed25519_key:
        seed = base64.b64decode(read_ed25519_key("key", path))
        public = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key()
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"
    key = serialization.load_pem_private_key(read_rsa_key("key", path), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return rsa_record(der)


def zone_line(name: str, value: str) -> str:
    """The record as a zone file line: long values split into quoted 255-byte strings."""
    parts = [value[i : i + TXT_CHUNK] for i in range(0, len(value), TXT_CHUNK)]
    return f"{name}. IN TXT " + " ".join(f'"{part}"' for part in parts)
