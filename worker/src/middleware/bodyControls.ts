/**
 * @module middleware/bodyControls
 * The controls that look at the request body, after `readBody` and before the limiter (a refused
 * request spends no quota): the model allow-list (403 `model_not_allowed` naming the allowed
 * models) and the `max_tokens` cap (the forwarded body is edited by `lib/tokenCap.ts`). With both
 * controls off it does nothing. A body the gateway did not read as JSON (another content type) is
 * still checked when it parses as a JSON object, so a content type cannot slip past a control.
 */
import { createMiddleware } from "hono/factory";
import { GatewayError } from "../errors";
import { JsonShapeError } from "../lib/jsonScan";
import { capMaxTokens } from "../lib/tokenCap";
import type { StageEnv } from "../types";
import type { ControlsVariables } from "./eventControls";
import type { BodyVariables } from "./readBody";

/** The endpoint whose requests get `max_tokens` = cap when they carry neither field. */
const CHAT_PATH = "/v1/chat/completions";

/** The `model` of a body not read as JSON, when it is a JSON object after all. */
function modelOfRaw(bytes: Uint8Array): string | null {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes));
    const model = parsed !== null && typeof parsed === "object" ? (parsed as { model?: unknown }).model : null;
    return typeof model === "string" ? model : null;
  } catch {
    return null;
  }
}

/** The 403 of a model outside the allow-list. */
export function modelNotAllowed(model: string | null, allowed: string[]): GatewayError {
  const which = model === null ? "A request without a model" : `Model ${JSON.stringify(model.slice(0, 64))}`;
  return new GatewayError(403, `${which} is not allowed during this event; allowed: ${allowed.join(", ")}.`, "model_not_allowed");
}

export function bodyControls() {
  return createMiddleware<StageEnv<ControlsVariables & BodyVariables>>(async function bodyControls(c, next) {
    const { models, max_tokens: cap } = c.var.controls.controls;
    const body = c.var.body;
    if (body.bytes && models) {
      const model = body.model ?? modelOfRaw(body.bytes);
      if (model === null || !models.includes(model)) throw modelNotAllowed(model, models);
    }
    if (body.bytes && cap !== null) {
      try {
        const bytes = capMaxTokens(body.bytes, cap, c.req.path === CHAT_PATH);
        if (bytes !== body.bytes) c.set("body", { ...body, bytes });
      } catch (error) {
        // Not well-formed JSON (another content type): the origin cannot read a max_tokens from it either.
        if (!(error instanceof JsonShapeError)) throw error;
      }
    }
    await next();
  });
}
