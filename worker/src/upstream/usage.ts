/**
 * @module usage
 * Finds `usage.total_tokens` in an OpenAI-style JSON body or server-sent event.
 */
import { memberValueAt } from "../lib/jsonScan";

/** `usage.total_tokens` from a parsed JSON value, or null. */
export function totalTokensOf(value: unknown): number | null {
  if (value === null || typeof value !== "object") return null;
  const usage = (value as { usage?: unknown }).usage;
  if (usage === null || typeof usage !== "object") return null;
  const total = (usage as { total_tokens?: unknown }).total_tokens;
  return typeof total === "number" && Number.isFinite(total) ? Math.round(total) : null;
}

/** `usage.total_tokens` from a JSON response body's text, or null when absent or not JSON. */
export function totalTokensInJson(text: string): number | null {
  try {
    return totalTokensOf(JSON.parse(text));
  } catch {
    return null;
  }
}

/** `usage.total_tokens` from one server-sent event (its `data:` lines), or null. */
export function totalTokensInEvent(event: string): number | null {
  if (!event.includes('"usage"')) return null;
  const data = event
    .split(/\r\n|\r|\n/)
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).trimStart())
    .join("\n");
  return data && data !== "[DONE]" ? totalTokensInJson(data) : null;
}

/** Bodies up to this size are parsed whole for their usage; larger ones only at `"usage"`. */
const WHOLE_PARSE_BYTES = 64 * 1024;
const USAGE_KEY = new TextEncoder().encode('"usage"');

/** Index of the last `"usage"` in `bytes` at or after `from`, or -1. */
function lastUsageKey(bytes: Uint8Array, from: number): number {
  for (let at = bytes.lastIndexOf(0x22); at >= from; at = at > 0 ? bytes.lastIndexOf(0x22, at - 1) : -1) {
    if (USAGE_KEY.every((byte, k) => bytes[at + k] === byte)) return at;
  }
  return -1;
}

/**
 * `usage.total_tokens` from a JSON response body's bytes. A large body (a long completion, an
 * embeddings list) is not decoded or parsed whole: the last `"usage"` member in its final 64 KiB
 * (where OpenAI-style answers put it) is cut out with its value and parsed alone.
 */
export function totalTokensInBody(bytes: Uint8Array): number | null {
  const decoder = new TextDecoder();
  if (bytes.byteLength <= WHOLE_PARSE_BYTES) return totalTokensInJson(decoder.decode(bytes));
  const key = lastUsageKey(bytes, bytes.byteLength - WHOLE_PARSE_BYTES);
  if (key < 0) return null;
  try {
    const span = memberValueAt(bytes, key);
    return span ? totalTokensOf({ usage: JSON.parse(decoder.decode(bytes.subarray(span[0], span[1]))) }) : null;
  } catch {
    return null;
  }
}
