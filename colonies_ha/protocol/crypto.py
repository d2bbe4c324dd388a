"""secp256k1 keys, signatures and ids exactly as Colonies clients compute them.

Colonies hashes with SHA3-256 (FIPS 202, not Keccak), signs the hash with RFC 6979
deterministic nonces, and derives an identity from the *hex text* of the uncompressed
public key.  Recovering the public key from the signature is how the server learns
who is calling: there are no other credentials on the wire.
"""

from __future__ import annotations

import functools
import hashlib
import os

import coincurve

from colonies_ha.domain.ids import is_hex64, sha3_hex

SIGNATURE_BYTES = 65
# Order of the secp256k1 group; a signature with s above half of it is malleable.
_CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_ORDER = _CURVE_ORDER // 2


class InvalidSignature(ValueError):
    """The signature cannot be decoded, is malleable, or does not verify."""


def generate_private_key() -> str:
    """A new private key in the 64-hex-char form every Colonies tool uses."""
    while True:
        candidate = hashlib.sha3_256(os.urandom(32)).hexdigest()
        if 0 < int(candidate, 16) < _CURVE_ORDER:
            return candidate


def _id_of_public_key(public_key: coincurve.PublicKey) -> str:
    return sha3_hex(public_key.format(compressed=False).hex())


@functools.lru_cache(maxsize=1024)
def _private_key(prvkey: str) -> coincurve.PrivateKey:
    """Remembered: coincurve derives the public key (twice) whenever one is built, which
    was a third of the cost of signing a request; a client signs many with one key."""
    if not is_hex64(prvkey.lower()):
        raise ValueError("a private key must be 64 hexadecimal characters")
    return coincurve.PrivateKey(bytes.fromhex(prvkey))


def id_of_private_key(prvkey: str) -> str:
    return _id_of_public_key(_private_key(prvkey).public_key)


def sign(message: str, prvkey: str) -> str:
    """Signature of `message` as 130 lower-case hex chars: r || s || v with v in {0, 1}."""
    digest = hashlib.sha3_256(message.encode("utf-8")).digest()
    return _private_key(prvkey).sign_recoverable(digest, hasher=None).hex()


def recover_id(message: str, signature_hex: str) -> str:
    """Id of the key that signed `message`; raises InvalidSignature on anything doubtful."""
    try:
        raw = bytes.fromhex(signature_hex)
    except (ValueError, TypeError) as exc:
        raise InvalidSignature("the signature is not hexadecimal") from exc
    if len(raw) != SIGNATURE_BYTES:
        raise InvalidSignature(
            f"the signature must be {SIGNATURE_BYTES} bytes (r, s, v), got {len(raw)}"
        )
    r, s, v = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
    if v in (27, 28):
        raise InvalidSignature("the recovery id must be 0 or 1, not 27/28")
    if v > 3:
        raise InvalidSignature(f"the recovery id {v} is out of range")
    if not (0 < r < _CURVE_ORDER and 0 < s < _CURVE_ORDER):
        raise InvalidSignature("the signature's r or s is out of range")
    if s > _HALF_ORDER:
        raise InvalidSignature("the signature has a high s value (malleable) and is refused")
    digest = hashlib.sha3_256(message.encode("utf-8")).digest()
    try:
        # coincurve only knows recovery ids 0 and 1; 2 and 3 (r >= n, practically never
        # produced) are folded onto them as the Go client does.
        public_key = coincurve.PublicKey.from_signature_and_message(
            raw[:64] + bytes([v & 1]), digest, hasher=None
        )
    except Exception as exc:
        raise InvalidSignature("no public key can be recovered from the signature") from exc
    return _id_of_public_key(public_key)
