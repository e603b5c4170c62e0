/**
 * @module middleware/accessLog
 * Outermost middleware: gives the request its id, starts the access-log record every later stage
 * fills in, and writes exactly one row once the response — streams included — has been sent.
 * The write runs in `executionCtx.waitUntil`, so logging never delays or breaks a response.
 */
import { createMiddleware } from "hono/factory";
import { insertAccessRecord, newAccessRecord, type AccessRecord } from "../lib/accessLog";
import { ipHash } from "../lib/crypto";
import { checkUserId } from "../lib/userId";
import type { AppEnv } from "../types";

/** Paths answered without a log row: health probes would spend the D1 write quota. */
const UNLOGGED_PATHS = new Set(["/health"]);

/** Error class for a status no stage classified (an origin 5xx passed through, for example). */
function defaultErrorClass(status: number): string | null {
  if (status >= 500) return "upstream_error";
  if (status >= 400) return "upstream_client_error";
  return null;
}

async function finishRecord(record: AccessRecord, startedAt: number, ip: string | null, salt: string | null) {
  record.latency_ms = Date.now() - startedAt;
  if (salt && ip) record.ip_hash = await ipHash(salt, ip);
}

export function accessLog() {
  return createMiddleware<AppEnv>(async function accessLog(c, next) {
    const startedAt = Date.now();
    const requestId = crypto.randomUUID();
    const record = newAccessRecord(requestId, c.req.method, c.req.path, startedAt);
    record.user_id = checkUserId(c.req.header("X-User-ID") ?? null).userId;
    c.set("requestId", requestId);
    c.set("record", record);

    await next();

    c.res.headers.set("X-Request-ID", requestId);
    if (UNLOGGED_PATHS.has(c.req.path)) return;
    record.status = c.res.status;
    record.error_class ??= defaultErrorClass(c.res.status);
    const bodyDone = c.var.bodyDone ?? Promise.resolve();
    const ip = c.req.header("CF-Connecting-IP") ?? null;
    const salt = c.env.IP_HASH_SALT || null;
    c.executionCtx.waitUntil(
      bodyDone
        .then(() => finishRecord(record, startedAt, ip, salt))
        .then(() => insertAccessRecord(c.env.DB, record))
        .catch((error) => console.error("access log write failed", requestId, String(error))),
    );
  });
}
