"""The unmodified pycolonies SDK, with its native crypto library swapped for ours.

pycolonies 1.0.2 signs through a `libcryptolib.so` that its wheel does not ship.  The
algorithm is the one colonies_ha implements (checked against the same vectors), so the
SDK's `crypto` module is replaced before the SDK is imported; every envelope is still
built by the SDK itself.
"""

from __future__ import annotations

import sys
import types

from colonies_ha.protocol import crypto as ours


class Crypto:
    def prvkey(self) -> str:
        return ours.generate_private_key()

    def id(self, prvkey: str) -> str:
        return ours.id_of_private_key(prvkey)

    def hash(self, data: str) -> str:
        return ours.sha3_hex(data)

    def sign(self, data: str, prvkey: str) -> str:
        return ours.sign(data, prvkey)

    def recoverid(self, data: str, signature: str) -> str:
        return ours.recover_id(data, signature)


_shim = types.ModuleType("crypto")
_shim.Crypto = Crypto  # type: ignore[attr-defined]
sys.modules["crypto"] = _shim

import pycolonies  # noqa: E402  (must come after the shim)

Colonies = pycolonies.Colonies
ColoniesError = pycolonies.ColoniesError
Workflow = pycolonies.Workflow
func_spec = pycolonies.create_func_spec
