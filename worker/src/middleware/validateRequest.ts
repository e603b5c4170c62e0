/**
 * @module middleware/validateRequest
 * First stage of `/v1/*`: configuration, user id, user key, body size and JSON. Whatever it
 * rejects is answered with a JSON error (and still logged by `accessLog`); what it accepts is
 * handed on as `c.var.validated`. The user key is checked here, before the limiter, so a forged
 * request cannot spend another attendee's quota.
 */
import { createMiddleware } from "hono/factory";
import { readConfig } from "../config";
import { GatewayError, notFound } from "../errors";
import { readBodyBounded, inspectJsonBody } from "../lib/body";
import { verifyUserKey } from "../lib/crypto";
import { ANONYMOUS_USER, checkUserId } from "../lib/userId";
import type { AppEnv } from "../types";

function isJson(contentType: string | undefined): boolean {
  return /^application\/([\w.+-]*\+)?json\b/i.test(contentType ?? "");
}

export function validateRequest() {
  return createMiddleware<AppEnv>(async function validateRequest(c, next) {
    // Hono's "/v1/*" also matches "/v1" itself, which is not an endpoint.
    if (!c.req.path.startsWith("/v1/") || c.req.path.length === 4) throw notFound();
    const config = readConfig(c.env);
    c.set("config", config);
    const record = c.var.record;

    const check = checkUserId(c.req.header("X-User-ID") ?? null);
    let userId: string;
    let limiterKey: string;
    if (check.kind === "valid") {
      userId = limiterKey = check.userId;
    } else if (check.kind === "missing" && config.allowAnonymous) {
      // Anonymous callers are counted per client IP, not in one shared bucket.
      userId = ANONYMOUS_USER;
      limiterKey = `~anonymous:${c.req.header("CF-Connecting-IP") ?? "unknown"}`;
    } else if (check.kind === "missing") {
      throw new GatewayError(400, "Missing X-User-ID header: send the user id you were given.", "missing_user");
    } else {
      throw new GatewayError(
        400,
        "Invalid X-User-ID: use 1 to 64 characters from A-Z a-z 0-9 . _ @ -.",
        "invalid_user",
      );
    }
    record.user_id = userId;

    if (config.userKeySecret && check.kind === "valid") {
      const presented = c.req.header("X-User-Key") ?? "";
      if (!presented || !(await verifyUserKey(config.userKeySecret, userId, presented))) {
        throw new GatewayError(401, "Missing or wrong X-User-Key for this X-User-ID.", "bad_user_key");
      }
    } else if (config.userKeySecret) {
      throw new GatewayError(401, "X-User-ID and X-User-Key are required.", "bad_user_key");
    }

    const raw = await readBodyBounded(c.req.raw, config.maxBodyBytes);
    let body = raw;
    let hideUsageChunk = false;
    if (raw && isJson(c.req.header("Content-Type"))) {
      const inspected = inspectJsonBody(raw);
      record.model = inspected.model;
      record.stream = inspected.stream;
      body = inspected.forward;
      hideUsageChunk = inspected.addedUsage;
    }
    c.set("validated", { userId, limiterKey, body, hideUsageChunk });
    await next();
  });
}
