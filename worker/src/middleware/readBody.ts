/**
 * @module middleware/readBody
 * Reads the request body (413 past `MAX_BODY_BYTES`, without reading further) and, for a JSON
 * content type, its `model` and `stream` fields (400 when it is not JSON). A streaming request
 * that did not ask for usage is rewritten to ask for it, so tokens are counted for streams too.
 */
import { createMiddleware } from "hono/factory";
import { inspectJsonBody, readBodyBounded } from "../lib/body";
import type { StageEnv } from "../types";
import type { ConfigVariables } from "./loadConfig";

/** The body as the origin will receive it, and what the gateway read from it. */
export interface RequestBody {
  /** The bytes to forward (possibly rewritten to ask for stream usage), or null. */
  bytes: Uint8Array | null;
  /** The JSON body's `model`, or null. */
  model: string | null;
  /** True when the JSON body asked for `"stream": true`. */
  stream: boolean;
  /** True when the gateway added `stream_options.include_usage` and must hide the usage chunk. */
  hideUsageChunk: boolean;
}

/** Set by {@link readBody}. */
export type BodyVariables = {
  body: RequestBody;
};

function isJson(contentType: string | undefined): boolean {
  return /^application\/([\w.+-]*\+)?json\b/i.test(contentType ?? "");
}

export function readBody() {
  return createMiddleware<StageEnv<ConfigVariables & BodyVariables>>(async function readBody(c, next) {
    const raw = await readBodyBounded(c.req.raw, c.var.config.maxBodyBytes);
    if (raw && isJson(c.req.header("Content-Type"))) {
      const inspected = inspectJsonBody(raw);
      c.set("body", {
        bytes: inspected.forward,
        model: inspected.model,
        stream: inspected.stream,
        hideUsageChunk: inspected.addedUsage,
      });
    } else {
      c.set("body", { bytes: raw, model: null, stream: false, hideUsageChunk: false });
    }
    await next();
  });
}
