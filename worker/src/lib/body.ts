/**
 * @module body
 * Reads a request body without ever holding more than the limit, and inspects a JSON body for
 * the fields the gateway cares about (model, stream) — rewriting it only to ask for stream usage.
 */
import { GatewayError } from "../errors";

function tooLarge(max: number): GatewayError {
  return new GatewayError(413, `Request body is larger than the gateway's limit of ${max} bytes.`, "body_too_large");
}

/**
 * @param request the incoming request
 * @param max the largest body accepted, in bytes
 * @returns the body, or null when there is none
 * @throws GatewayError 413 as soon as the declared or the streamed size passes `max`
 */
export async function readBodyBounded(request: Request, max: number): Promise<Uint8Array | null> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > max) throw tooLarge(max);
  if (!request.body) return null;
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel("body too large").catch(() => {});
      throw tooLarge(max);
    }
    chunks.push(value);
  }
  if (total === 0) return null;
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

export interface InspectedBody {
  model: string | null;
  stream: boolean;
  /** The bytes to forward: the original, or a rewrite asking for stream usage. */
  forward: Uint8Array;
  /** True when the gateway added `stream_options.include_usage` on the client's behalf. */
  addedUsage: boolean;
}

/**
 * @param body the raw JSON body
 * @throws GatewayError 400 when the body is not valid JSON
 */
export function inspectJsonBody(body: Uint8Array): InspectedBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new GatewayError(400, "Request body is not valid JSON.", "invalid_json");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return { model: null, stream: false, forward: body, addedUsage: false };
  }
  const fields = parsed as Record<string, unknown>;
  const model = typeof fields.model === "string" ? fields.model.slice(0, 128) : null;
  const stream = fields.stream === true;
  const options = fields.stream_options;
  const optionsObject = options !== null && typeof options === "object" && !Array.isArray(options);
  const clientAskedUsage = optionsObject && (options as Record<string, unknown>).include_usage === true;
  if (!stream || clientAskedUsage) return { model, stream, forward: body, addedUsage: false };
  fields.stream_options = { ...(optionsObject ? (options as object) : {}), include_usage: true };
  return { model, stream, forward: new TextEncoder().encode(JSON.stringify(fields)), addedUsage: true };
}
