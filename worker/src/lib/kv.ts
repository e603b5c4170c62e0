/**
 * @module kv
 * The one way the Worker reads KV (`tier:{user}`, `oauth:{user}`). A KV read can fail (the
 * service is degraded, a limit is hit); that is not a bug in the gateway, so it is answered as a
 * documented, retryable 503 `kv_unavailable` instead of an anonymous 500.
 */
import { GatewayError } from "../errors";

/** Seconds a client is asked to wait before retrying after a KV failure. */
export const KV_RETRY_AFTER_S = 5;

/**
 * @param kv the namespace
 * @param key the key to read
 * @returns the value, or null when the key is absent
 * @throws GatewayError 503 `kv_unavailable` (with `Retry-After`) when the read fails
 */
export async function readKv(kv: KVNamespace, key: string): Promise<string | null> {
  try {
    return await kv.get(key);
  } catch (error) {
    // The key names a user, never a secret; the value is never logged.
    console.error("KV read failed", key.split(":")[0], String(error));
    throw new GatewayError(503, "The gateway's settings store is unavailable; try again in a few seconds.", "kv_unavailable", {
      "Retry-After": String(KV_RETRY_AFTER_S),
    });
  }
}
