/**
 * @module jsonScan
 * Walks the members of one JSON object in UTF-8 bytes without building it: where each member's
 * key and value start and end. The gateway needs three top-level fields of a body of up to 4 MiB
 * (`model`, `stream`, `stream_options`) and must forward the rest byte for byte, so it never
 * decodes, parses or re-serialises what it does not read. Strings are skipped with the native
 * `indexOf` (UTF-8 continuation bytes never equal `"` or `\`), so a body that is mostly message
 * text costs little more than a copy.
 *
 * The walk checks the object's structure (quoted keys, colons, commas, balanced brackets, closed
 * strings, nothing after the end) but not the inside of nested values: callers that must reject
 * every malformed body also run `JSON.parse` when the body is small (see `body.ts`).
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** One member of an object: `bytes[keyStart, keyEnd)` is the quoted key, `[valueStart, valueEnd)` its value. */
export interface MemberSpan {
  key: string;
  keyStart: number;
  valueStart: number;
  valueEnd: number;
}

/** An object's members in order, and where its braces are. */
export interface ObjectSpan {
  /** Index of `{`. */
  start: number;
  /** Index of the matching `}`. */
  end: number;
  members: MemberSpan[];
}

/** Thrown when the bytes are not a well-formed object at the level walked. */
export class JsonShapeError extends Error {}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function skipSpace(bytes: Uint8Array, i: number): number {
  while (i < bytes.length && isSpace(bytes[i])) i++;
  return i;
}

/** Bytes of a string looked at one by one before handing over to `indexOf` (a native call). */
const SHORT_STRING = 48;

/** Index just past the string whose opening quote is at `i`. */
function skipString(bytes: Uint8Array, i: number): number {
  // Keys and short values end within a few bytes: a plain loop beats the call into `indexOf`.
  const stop = Math.min(bytes.length, i + 1 + SHORT_STRING);
  for (let k = i + 1; k < stop; k++) {
    const byte = bytes[k];
    if (byte === QUOTE) return k + 1;
    if (byte === BACKSLASH) break;
  }
  let j = i + 1;
  for (;;) {
    const quote = bytes.indexOf(QUOTE, j);
    if (quote < 0) throw new JsonShapeError("unterminated string");
    let backslashes = 0;
    for (let k = quote - 1; k > i && bytes[k] === BACKSLASH; k--) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    j = quote + 1;
  }
}

/** Index just past the value starting at `i` (a string, a container, or a bare literal/number). */
function skipValue(bytes: Uint8Array, i: number): number {
  const first = bytes[i];
  if (first === QUOTE) return skipString(bytes, i);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    const stack: number[] = [];
    let j = i;
    while (j < bytes.length) {
      const byte = bytes[j];
      if (byte === QUOTE) {
        j = skipString(bytes, j);
        continue;
      }
      if (byte === OPEN_BRACE || byte === OPEN_BRACKET) stack.push(byte === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET);
      else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        if (stack.pop() !== byte) throw new JsonShapeError("unbalanced brackets");
        if (stack.length === 0) return j + 1;
      }
      j++;
    }
    throw new JsonShapeError("unterminated container");
  }
  let j = i;
  while (j < bytes.length && !isSpace(bytes[j]) && bytes[j] !== COMMA && bytes[j] !== CLOSE_BRACE && bytes[j] !== CLOSE_BRACKET) j++;
  if (j === i) throw new JsonShapeError("missing value");
  return j;
}

const decoder = new TextDecoder();

/** The key text of a quoted key at `[start, end)`; long keys are not ones the gateway reads. */
function keyText(bytes: Uint8Array, start: number, end: number): string {
  if (end - start > 256) return "";
  const raw = decoder.decode(bytes.subarray(start, end));
  if (!raw.includes("\\")) return raw.slice(1, -1);
  try {
    return JSON.parse(raw) as string;
  } catch {
    throw new JsonShapeError("bad escape in key");
  }
}

/**
 * Walks the object starting at the first non-space byte at or after `from`.
 * @param bytes UTF-8 JSON
 * @param from where to start looking
 * @param whole when true, nothing but whitespace may follow the object
 * @returns the object's span, or null when the value there is not an object
 * @throws JsonShapeError when the object is malformed
 */
export function scanObject(bytes: Uint8Array, from = 0, whole = true): ObjectSpan | null {
  const start = skipSpace(bytes, from);
  if (bytes[start] !== OPEN_BRACE) return null;
  const members: MemberSpan[] = [];
  let i = skipSpace(bytes, start + 1);
  if (bytes[i] !== CLOSE_BRACE) {
    for (;;) {
      if (bytes[i] !== QUOTE) throw new JsonShapeError("expected a key");
      const keyStart = i;
      const keyEnd = skipString(bytes, i);
      i = skipSpace(bytes, keyEnd);
      if (bytes[i] !== COLON) throw new JsonShapeError("expected a colon");
      const valueStart = skipSpace(bytes, i + 1);
      if (valueStart >= bytes.length) throw new JsonShapeError("missing value");
      const valueEnd = skipValue(bytes, valueStart);
      members.push({ key: keyText(bytes, keyStart, keyEnd), keyStart, valueStart, valueEnd });
      i = skipSpace(bytes, valueEnd);
      if (bytes[i] === COMMA) {
        i = skipSpace(bytes, i + 1);
        continue;
      }
      if (bytes[i] === CLOSE_BRACE) break;
      throw new JsonShapeError("expected a comma or the end of the object");
    }
  }
  if (whole && skipSpace(bytes, i + 1) !== bytes.length) throw new JsonShapeError("text after the object");
  return { start, end: i, members };
}

/**
 * The value of the member whose quoted key starts at `keyStart`, as `[start, end)`, or null when
 * no colon and well-formed value follow.
 */
export function memberValueAt(bytes: Uint8Array, keyStart: number): [number, number] | null {
  try {
    const i = skipSpace(bytes, skipString(bytes, keyStart));
    if (bytes[i] !== COLON) return null;
    const start = skipSpace(bytes, i + 1);
    return start < bytes.length ? [start, skipValue(bytes, start)] : null;
  } catch {
    return null;
  }
}

/** The last member named `key` (JSON.parse keeps the last of duplicates), or undefined. */
export function lastMember(object: ObjectSpan, key: string): MemberSpan | undefined {
  for (let i = object.members.length - 1; i >= 0; i--) if (object.members[i].key === key) return object.members[i];
  return undefined;
}

/** The bytes with `insert` put in place of `[start, end)` (an insertion when start === end). */
export function splice(bytes: Uint8Array, start: number, end: number, insert: string): Uint8Array {
  const middle = new TextEncoder().encode(insert);
  const out = new Uint8Array(bytes.length - (end - start) + middle.length);
  out.set(bytes.subarray(0, start), 0);
  out.set(middle, start);
  out.set(bytes.subarray(end), start + middle.length);
  return out;
}
