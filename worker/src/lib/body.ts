/**
 * @module body
 * Reads a request body without ever holding more than the limit, and inspects a JSON body for
 * the fields the gateway cares about (model, stream) — changing it only to ask for stream usage,
 * by inserting bytes, never by re-serialising.
 */
import { clientClosed, GatewayError } from "../errors";
import { JsonShapeError, lastMember, scanObject, splice, type MemberSpan, type ObjectSpan } from "./jsonScan";

function tooLarge(max: number): GatewayError {
  return new GatewayError(413, `Request body is larger than the gateway's limit of ${max} bytes.`, "body_too_large");
}

/**
 * @param request the incoming request
 * @param max the largest body accepted, in bytes
 * @returns the body, or null when there is none
 * @throws GatewayError 413 as soon as the declared or the streamed size passes `max`; 400
 *   `body_read_error` when the body breaks off, 499 `client_closed` when the client left
 */
export async function readBodyBounded(request: Request, max: number): Promise<Uint8Array | null> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > max) throw tooLarge(max);
  if (!request.body) return null;
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch {
      if (request.signal.aborted) throw clientClosed("while sending its body");
      throw new GatewayError(400, "The request body could not be read to its end.", "body_read_error");
    }
    const { done, value } = chunk;
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel("body too large").catch(() => {});
      throw tooLarge(max);
    }
    chunks.push(value);
  }
  return total === 0 ? null : concatBytes(chunks, total);
}

/** The chunks as one array (the one chunk itself when there is only one: no copy). */
export function concatBytes(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

export interface InspectedBody {
  model: string | null;
  stream: boolean;
  /** The bytes to forward: the original, or the original with `include_usage` put in. */
  forward: Uint8Array;
  /** True when the gateway added `stream_options.include_usage` on the client's behalf. */
  addedUsage: boolean;
}

/**
 * Bodies up to this size are also checked whole with `JSON.parse` (well under a millisecond);
 * larger ones only have their top-level object's structure checked by the byte walk, so a 4 MiB
 * body costs no parse and no copy beyond the one forwarded (the origin rejects a malformed inside).
 */
export const FULL_CHECK_BYTES = 64 * 1024;

const decoder = new TextDecoder();

function invalidJson(): GatewayError {
  return new GatewayError(400, "Request body is not valid JSON.", "invalid_json");
}

/** A short JSON string value (the model name) from its span, or null for any other value. */
function stringAt(body: Uint8Array, member: MemberSpan | undefined): string | null {
  if (!member || body[member.valueStart] !== 0x22) return null;
  try {
    return (JSON.parse(decoder.decode(body.subarray(member.valueStart, member.valueEnd))) as string).slice(0, 128);
  } catch {
    throw invalidJson(); // only reachable for a large body, whose strings were not parsed before
  }
}

function isTrueAt(body: Uint8Array, member: MemberSpan | undefined): boolean {
  return member !== undefined && member.valueEnd - member.valueStart === 4 && decoder.decode(body.subarray(member.valueStart, member.valueEnd)) === "true";
}

/**
 * Reads `model` and `stream` from a JSON body and, for a stream that did not ask for usage, puts
 * `stream_options.include_usage: true` in by inserting bytes: the client's other bytes (key order,
 * spacing, numbers beyond 2^53) reach the origin exactly as sent.
 * @param body the raw JSON body
 * @throws GatewayError 400 when the body is not valid JSON
 */
export function inspectJsonBody(body: Uint8Array): InspectedBody {
  let object: ObjectSpan | null;
  try {
    if (body.byteLength <= FULL_CHECK_BYTES) JSON.parse(decoder.decode(body));
    object = scanObject(body);
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof JsonShapeError) throw invalidJson();
    throw error;
  }
  if (!object) return { model: null, stream: false, forward: body, addedUsage: false };
  const model = stringAt(body, lastMember(object, "model"));
  const stream = isTrueAt(body, lastMember(object, "stream"));
  if (!stream) return { model, stream, forward: body, addedUsage: false };

  const options = lastMember(object, "stream_options");
  const inner = options ? scanObject(body, options.valueStart, false) : null;
  const includeUsage = inner ? lastMember(inner, "include_usage") : undefined;
  if (isTrueAt(body, includeUsage)) return { model, stream, forward: body, addedUsage: false };

  let forward: Uint8Array;
  if (includeUsage) {
    forward = splice(body, includeUsage.valueStart, includeUsage.valueEnd, "true");
  } else if (inner) {
    const at = inner.start + 1;
    forward = splice(body, at, at, inner.members.length ? '"include_usage":true,' : '"include_usage":true');
  } else if (options) {
    forward = splice(body, options.valueStart, options.valueEnd, '{"include_usage":true}');
  } else {
    const last = object.members[object.members.length - 1];
    const at = last ? last.valueEnd : object.start + 1;
    forward = splice(body, at, at, `${last ? "," : ""}"stream_options":{"include_usage":true}`);
  }
  return { model, stream, forward, addedUsage: true };
}
