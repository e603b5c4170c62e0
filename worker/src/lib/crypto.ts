/**
 * @module crypto
 * HMAC-SHA256 helpers for the two keyed values the gateway handles: attendee user keys
 * (verified with no storage lookup) and the keyed hash of the client IP.
 */
const encoder = new TextEncoder();
const keyCache = new Map<string, Promise<CryptoKey>>();

/** Imports (once per isolate and secret) an HMAC-SHA256 key from a secret's UTF-8 bytes. */
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    keyCache.set(secret, key);
  }
  return key;
}

/** Unpadded base64url, the encoding of `X-User-Key` (gateway_ops/keys.py issues the same). */
export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Decodes unpadded base64url; null when the text is not base64url at all. */
export function fromBase64url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}

/**
 * What a user's key of a given generation signs: the user id (generation 0, the original key), or
 * `"{user id}#{generation}"` for a key reissued by the admin API (README: "Event controls and the admin API").
 */
function keyMessage(userId: string, generation: number): Uint8Array {
  return encoder.encode(generation === 0 ? userId : `${userId}#${generation}`);
}

/**
 * The key issued for a user: base64url(HMAC-SHA256(secret, userId)), or of `"{userId}#{g}"` for
 * generation g >= 1.
 * @example await userKeyFor("s3cret", "alice") // "…43 characters…"
 */
export async function userKeyFor(secret: string, userId: string, generation = 0): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), keyMessage(userId, generation));
  return base64url(new Uint8Array(mac));
}

/**
 * True when `presented` is the key of `generation` issued for `userId`. `crypto.subtle.verify`
 * compares the MACs in constant time, so the check leaks nothing about how much of a forged key
 * was right.
 */
export async function verifyUserKey(secret: string, userId: string, presented: string, generation = 0): Promise<boolean> {
  const mac = fromBase64url(presented);
  if (!mac || mac.length !== 32) return false;
  return crypto.subtle.verify("HMAC", await hmacKey(secret), mac, keyMessage(userId, generation));
}

/**
 * Keyed hash of a client IP, 16 hex characters (64 bits). Keyed so the access log cannot be
 * reversed by hashing all 2^32 IPv4 addresses, as a bare SHA-256 prefix can in seconds.
 */
export async function ipHash(salt: string, ip: string): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(salt), encoder.encode(ip)));
  return Array.from(mac.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}
