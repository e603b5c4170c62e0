/**
 * @module tokenCap
 * The `max_tokens` control: lowers a JSON body's top-level `max_tokens` / `max_completion_tokens`
 * to the cap, and gives a chat request that has neither `max_tokens` = cap, so the origin never
 * sees more. It edits bytes in place of re-serialising (with `jsonScan`, as the stream-usage
 * edit does): every byte it does not change (key order, spacing, numbers beyond 2^53, the
 * stream-usage edit made before it) reaches the origin as sent.
 */
import { scanObject, splice, type MemberSpan } from "./jsonScan";

/** The top-level fields the cap applies to. */
export const CAPPED_FIELDS = new Set(["max_tokens", "max_completion_tokens"]);

const decoder = new TextDecoder();

/** True when the value's bytes are a JSON number no larger than `cap`. */
function withinCap(bytes: Uint8Array, member: MemberSpan, cap: number): boolean {
  const text = decoder.decode(bytes.subarray(member.valueStart, member.valueEnd));
  return /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text) && Number(text) <= cap;
}

/**
 * @param body JSON bytes
 * @param cap the largest `max_tokens` / `max_completion_tokens` the origin may see
 * @param addWhenMissing true for a chat request: with neither field, `"max_tokens": cap` is added
 * @returns the body to forward: the same array when nothing changed or it is not a JSON object
 * @throws JsonShapeError when the object is malformed
 * @example capMaxTokens(bytes('{"max_tokens": 9000}'), 256, true) // '{"max_tokens": 256}'
 */
export function capMaxTokens(body: Uint8Array, cap: number, addWhenMissing: boolean): Uint8Array {
  const object = scanObject(body);
  if (!object) return body;
  const capped = object.members.filter((m) => CAPPED_FIELDS.has(m.key));
  if (capped.length === 0) {
    if (!addWhenMissing) return body;
    const at = object.start + 1;
    return splice(body, at, at, `"max_tokens":${cap}${object.members.length ? "," : ""}`);
  }
  let out = body;
  // From the last to the first, so earlier offsets stay valid.
  for (const member of capped.reverse()) {
    if (!withinCap(body, member, cap)) out = splice(out, member.valueStart, member.valueEnd, String(cap));
  }
  return out;
}
