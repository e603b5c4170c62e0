/**
 * @module admin/jsonBody
 * The JSON body of an admin call: at most 64 KiB, and a 400 (not a 500) when it is not JSON.
 */
import type { Context } from "hono";
import { GatewayError } from "../errors";
import { readBodyBounded } from "../lib/body";
import type { AppEnv } from "../types";

const MAX_ADMIN_BODY = 64 * 1024;

export async function adminJson(c: Context<AppEnv>): Promise<unknown> {
  const raw = await readBodyBounded(c.req.raw, MAX_ADMIN_BODY);
  try {
    return JSON.parse(new TextDecoder().decode(raw ?? new Uint8Array()));
  } catch {
    throw new GatewayError(400, "The body must be a JSON object.", "invalid_json");
  }
}
