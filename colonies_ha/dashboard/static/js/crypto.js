// Colonies signing in the browser, byte for byte what colonies_ha/protocol/crypto.py does.
//
// SHA3-256 (FIPS 202, not Keccak) of the UTF-8 message, RFC 6979 secp256k1 signature with
// low s, laid out as r(32) || s(32) || v(1) in lower-case hex.  An identity is the SHA3-256
// of the *hex text* of the uncompressed public key.  The private key never leaves the page.
import * as secp from '../vendor/noble-secp256k1/index.js';
import { hmac } from '../vendor/noble-hashes/hmac.js';
import { sha256 } from '../vendor/noble-hashes/sha2.js';
import { sha3_256 } from '../vendor/noble-hashes/sha3.js';
import { bytesToHex, hexToBytes } from '../vendor/noble-hashes/utils.js';

// noble-secp256k1 v3 ships no hash functions: RFC 6979 nonces need HMAC-SHA256.
secp.hashes.sha256 = sha256;
secp.hashes.hmacSha256 = (key, msg) => hmac(sha256, key, msg);

const encoder = new TextEncoder();

/** True for a 64-character hexadecimal string (private keys, ids). */
export function isHex64(text) {
  return typeof text === 'string' && /^[0-9a-fA-F]{64}$/.test(text);
}

/** Hex SHA3-256 of the UTF-8 bytes of `text`. */
export function sha3Hex(text) {
  return bytesToHex(sha3_256(encoder.encode(text)));
}

function secretKey(prvkey) {
  if (!isHex64(prvkey)) throw new Error('a private key must be 64 hexadecimal characters');
  return hexToBytes(prvkey.toLowerCase());
}

/** The Colonies id of a private key (the executor, colony or server id it stands for). */
export function idOfPrivateKey(prvkey) {
  const publicKey = secp.getPublicKey(secretKey(prvkey), false);
  return sha3Hex(bytesToHex(publicKey));
}

/** Signature of `message` as 130 hex characters: r || s || v with v in {0, 1}. */
export function sign(message, prvkey) {
  const digest = sha3_256(encoder.encode(message));
  // 'recovered' is v || r || s in noble; Colonies puts the recovery id last.
  const recovered = secp.sign(digest, secretKey(prvkey), {
    prehash: false,
    lowS: true,
    format: 'recovered',
  });
  return bytesToHex(recovered.subarray(1)) + bytesToHex(recovered.subarray(0, 1));
}

/** Standard padded base64 of the UTF-8 bytes of `text` (the envelope's payload). */
export function base64Utf8(text) {
  let binary = '';
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** Inverse of base64Utf8. */
export function utf8FromBase64(b64) {
  const binary = atob(b64);
  const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** A signed request envelope, as pycolonies builds it: the signature covers the base64 text. */
export function envelope(msg, prvkey) {
  const payload = base64Utf8(JSON.stringify(msg));
  return JSON.stringify({ payloadtype: msg.msgtype, payload, signature: sign(payload, prvkey) });
}
