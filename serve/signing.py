"""Optional Ed25519 signatures on regulator exports.

With LIVEGUARD_EXPORT_SIGNING_KEY set to a PEM Ed25519 private key file, every export response
carries X-LiveGuard-Signature-Ed25519 (base64 of the signature over the exact body bytes) and
X-LiveGuard-Key-Id (the first 16 hex of the SHA-256 of the raw public key). The receiver checks
it with the public key it was given out of band (`public_key_pem`).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from liveguard.errors import ConfigError

__all__ = ["ExportSigner", "verify_export"]


class ExportSigner:
    def __init__(self, key_path: Path) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        try:
            key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(f"export signing key {key_path}: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"export signing key {key_path} is not an Ed25519 key")
        self._key = key
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]
        self.public_key_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def headers(self, body: bytes) -> dict[str, str]:
        return {"X-LiveGuard-Signature-Ed25519": base64.b64encode(self._key.sign(body)).decode(),
                "X-LiveGuard-Key-Id": self.key_id}


def verify_export(public_key_pem: str, body: bytes, signature_b64: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(public_key_pem.encode())
    try:
        key.verify(base64.b64decode(signature_b64), body)
        return True
    except (InvalidSignature, ValueError):
        return False
