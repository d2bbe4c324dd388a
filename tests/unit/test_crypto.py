"""The crypto must reproduce the shared vectors byte for byte and refuse doubtful signatures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from colonies_ha.domain import ids
from colonies_ha.protocol import crypto

VECTORS = json.loads((Path(__file__).parents[1] / "fixtures/crypto_vectors.json").read_text())
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["label"])
def test_ids_and_signatures_match_vectors(vector: dict) -> None:
    assert crypto.id_of_private_key(vector["prvkey"]) == vector["id"]
    for sig in vector["signatures"].values():
        assert crypto.sha3_hex(sig["message"]) == sig["sha3_256"]
        assert crypto.sign(sig["message"], vector["prvkey"]) == sig["signature"]
        assert crypto.recover_id(sig["message"], sig["signature"]) == vector["id"]
    envelope = vector["envelope_for_sdk_example"]
    assert crypto.sign(envelope["payload"], vector["prvkey"]) == envelope["signature"]


def test_upstream_reference_vectors() -> None:
    ref = VECTORS["upstream_reference_vectors"]
    ident = ref["pycolonies_test_crypto_id"]
    assert crypto.id_of_private_key(ident["prvkey"]) == ident["id"]
    hello = ref["pycolonies_test_crypto_sign_hello"]
    assert crypto.sign(hello["message"], hello["prvkey"]) == hello["signature"]


def test_sha3_is_not_keccak() -> None:
    assert crypto.sha3_hex("hello") == VECTORS["sha3_256_hex"]["hello"]


def _high_s(signature: str) -> str:
    raw = bytes.fromhex(signature)
    s = int.from_bytes(raw[32:64], "big")
    return (raw[:32] + (N - s).to_bytes(32, "big") + bytes([raw[64] ^ 1])).hex()


def test_high_s_signature_is_refused() -> None:
    key = crypto.generate_private_key()
    signature = crypto.sign("payload", key)
    with pytest.raises(crypto.InvalidSignature, match="high s"):
        crypto.recover_id("payload", _high_s(signature))


@pytest.mark.parametrize("cut", [2, 4, 128])
def test_wrong_length_signature_is_refused(cut: int) -> None:
    signature = crypto.sign("payload", crypto.generate_private_key())
    with pytest.raises(crypto.InvalidSignature, match="65 bytes"):
        crypto.recover_id("payload", signature[:-cut])


def test_non_hex_and_27_28_recovery_ids_are_refused() -> None:
    signature = crypto.sign("payload", crypto.generate_private_key())
    with pytest.raises(crypto.InvalidSignature):
        crypto.recover_id("payload", "zz" + signature[2:])
    with pytest.raises(crypto.InvalidSignature, match="27/28"):
        crypto.recover_id("payload", signature[:-2] + "1b")


def test_changed_message_recovers_another_identity() -> None:
    key = crypto.generate_private_key()
    signature = crypto.sign("payload", key)
    assert crypto.recover_id("payload!", signature) != crypto.id_of_private_key(key)


def test_object_ids_are_64_hex() -> None:
    made = {ids.new_object_id() for _ in range(100)}
    assert len(made) == 100 and all(ids.is_hex64(i) for i in made)
