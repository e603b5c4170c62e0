/**
 * @module tokenCap
 * The `max_tokens` control: lowers a JSON body's top-level `max_tokens` / `max_completion_tokens`
 * to the cap, and gives a chat request that has neither `max_tokens` = cap, so the origin never
 * sees more. It edits bytes in place of re-serialising: every byte it does not change (key order,
 * spacing, numbers beyond 2^53, the stream-usage edit made before it) reaches the origin as sent.
 * It walks only the top-level object; nested values are skipped, not parsed.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** The top-level fields the cap applies to. */
export const CAPPED_FIELDS = new Set(["max_tokens", "max_completion_tokens"]);

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Thrown for bytes that are not one JSON object (the caller answers 400). */
export class NotAnObject extends Error {}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function skipSpace(bytes: Uint8Array, i: number): number {
  while (i < bytes.length && isSpace(bytes[i])) i++;
  return i;
}

/** Index just past the string whose opening quote is at `i`. */
function skipString(bytes: Uint8Array, i: number): number {
  for (let j = i + 1; j < bytes.length; j++) {
    if (bytes[j] === BACKSLASH) j++;
    else if (bytes[j] === QUOTE) return j + 1;
  }
  throw new NotAnObject("unterminated string");
}

/** Index just past the value starting at `i`. */
function skipValue(bytes: Uint8Array, i: number): number {
  const first = bytes[i];
  if (first === QUOTE) return skipString(bytes, i);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    for (let j = i; j < bytes.length; j++) {
      const byte = bytes[j];
      if (byte === QUOTE) j = skipString(bytes, j) - 1;
      else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth++;
      else if ((byte === CLOSE_BRACE || byte === CLOSE_BRACKET) && --depth === 0) return j + 1;
    }
    throw new NotAnObject("unbalanced brackets");
  }
  let j = i;
  while (j < bytes.length && !isSpace(bytes[j]) && bytes[j] !== COMMA && bytes[j] !== CLOSE_BRACE && bytes[j] !== CLOSE_BRACKET) j++;
  if (j === i) throw new NotAnObject("missing value");
  return j;
}

interface Member {
  key: string;
  valueStart: number;
  valueEnd: number;
}

/** The members of the top-level object, and where its `{` is. */
function topLevelMembers(bytes: Uint8Array): { open: number; members: Member[] } {
  const open = skipSpace(bytes, 0);
  if (bytes[open] !== OPEN_BRACE) throw new NotAnObject("not an object");
  const members: Member[] = [];
  let i = skipSpace(bytes, open + 1);
  if (bytes[i] === CLOSE_BRACE) return { open, members };
  for (;;) {
    if (bytes[i] !== QUOTE) throw new NotAnObject("expected a key");
    const keyEnd = skipString(bytes, i);
    const key = JSON.parse(decoder.decode(bytes.subarray(i, keyEnd))) as string;
    i = skipSpace(bytes, keyEnd);
    if (bytes[i] !== COLON) throw new NotAnObject("expected a colon");
    const valueStart = skipSpace(bytes, i + 1);
    const valueEnd = skipValue(bytes, valueStart);
    members.push({ key, valueStart, valueEnd });
    i = skipSpace(bytes, valueEnd);
    if (bytes[i] === CLOSE_BRACE) return { open, members };
    if (bytes[i] !== COMMA) throw new NotAnObject("expected a comma");
    i = skipSpace(bytes, i + 1);
  }
}

/** True when the value's bytes are a JSON number no larger than `cap`. */
function withinCap(bytes: Uint8Array, member: Member, cap: number): boolean {
  const text = decoder.decode(bytes.subarray(member.valueStart, member.valueEnd));
  return /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text) && Number(text) <= cap;
}

/**
 * @param body a JSON object's bytes
 * @param cap the largest `max_tokens` / `max_completion_tokens` the origin may see
 * @param addWhenMissing true for a chat request: with neither field, `"max_tokens": cap` is added
 * @returns the body to forward (the same array when nothing changed)
 * @throws NotAnObject when the bytes are not a JSON object
 * @example capMaxTokens(bytes('{"max_tokens": 9000}'), 256, true) // '{"max_tokens": 256}'
 */
export function capMaxTokens(body: Uint8Array, cap: number, addWhenMissing: boolean): Uint8Array {
  const { open, members } = topLevelMembers(body);
  const capped = members.filter((m) => CAPPED_FIELDS.has(m.key));
  const edits: Array<{ start: number; end: number; text: string }> = capped
    .filter((m) => !withinCap(body, m, cap))
    .map((m) => ({ start: m.valueStart, end: m.valueEnd, text: String(cap) }));
  if (capped.length === 0 && addWhenMissing) {
    edits.push({ start: open + 1, end: open + 1, text: `"max_tokens":${cap}${members.length ? "," : ""}` });
  }
  if (edits.length === 0) return body;
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const edit of edits.sort((a, b) => a.start - b.start)) {
    parts.push(body.subarray(at, edit.start), encoder.encode(edit.text));
    at = edit.end;
  }
  parts.push(body.subarray(at));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}
