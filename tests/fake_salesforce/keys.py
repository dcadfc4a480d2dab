"""The RSA key pair of the emulated connected app (JWT bearer flow).

The client signs JWTs with the private key; the emulator, like the connected app's uploaded
certificate, holds the public key. Generated once per process: 2048-bit generation is slow.
"""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

RSA_KEY_BITS = 2048
_lock = threading.Lock()
_key: rsa.RSAPrivateKey | None = None


def private_key() -> rsa.RSAPrivateKey:
    """The process-wide test key."""
    global _key
    with _lock:
        if _key is None:
            _key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
        return _key


def private_key_pem() -> str:
    """PEM (PKCS#8, unencrypted) of the private key, for ``credentials.private_key_pem``."""
    return (
        private_key()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def verify_rs256(signing_input: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is an RS256 signature of ``signing_input`` by the test key."""
    try:
        private_key().public_key().verify(
            signature, signing_input, padding.PKCS1v15(), hashes.SHA256()
        )
    except Exception:
        return False
    return True
