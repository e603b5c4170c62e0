/**
 * @module middleware/accessLog
 * Outermost middleware: gives the request its id and, once the response — streams included — has
 * been sent, writes exactly one row built by `accessRecordOf` from what the stages published
 * (identity, body, origin pool, origin exchange, answered error). It is the only writer of the row: the other
 * stages set their own context variables and never touch a log field. The write runs in
 * `executionCtx.waitUntil`, so logging never delays or breaks a response.
 */
import { createMiddleware } from "hono/factory";
import { accessRecordOf, insertAccessRecord } from "../lib/accessLog";
import { ipHash } from "../lib/crypto";
import { checkUserId, claimedUserId } from "../lib/userId";
import type { AppEnv } from "../types";
import type { StreamOutcome } from "../upstream/meterEventStream";

/** Set by {@link accessLog} for every request, before any other stage runs. */
export type AccessLogVariables = {
  requestId: string;
};

/** Paths answered without a log row: health probes would spend the D1 write quota. */
const UNLOGGED_PATHS = new Set(["/health"]);

/** The relay outcome of a request the origin never answered. */
const NOT_RELAYED: StreamOutcome = { tokens: null, failure: null };

export function accessLog() {
  return createMiddleware<AppEnv>(async function accessLog(c, next) {
    const startedAt = Date.now();
    const requestId = crypto.randomUUID();
    c.set("requestId", requestId);

    await next();

    c.res.headers.set("X-Request-ID", requestId);
    if (UNLOGGED_PATHS.has(c.req.path)) return;
    const { user, config, body, pool, origin, answeredError } = c.var;
    // Logged under its identity once known, else under what it claims (or a placeholder).
    const claimed = checkUserId(c.req.header("X-User-ID") ?? null);
    const userId = user?.userId ?? claimedUserId(claimed, config?.allowAnonymous ?? false);
    const status = c.res.status;
    const ip = c.req.header("CF-Connecting-IP") ?? null;
    const salt = c.env.IP_HASH_SALT || null;
    const write = async ({ tokens, failure }: StreamOutcome) => {
      const finishedAt = Date.now();
      const record = accessRecordOf({
        requestId,
        method: c.req.method,
        path: c.req.path,
        startedAt,
        finishedAt,
        status,
        userId,
        body: body ?? null,
        answeredErrorClass: answeredError?.errorClass ?? null,
        originHeadersAt: origin?.headersAt ?? null,
        tokens,
        relayFailure: failure,
        ipHash: salt && ip ? await ipHash(salt, ip) : null,
        originIndex: pool?.origin ?? null,
        gateWaitMs: pool?.gateWaitMs ?? null,
      });
      await insertAccessRecord(c.env.DB, record);
    };
    c.executionCtx.waitUntil(
      (origin?.relayed ?? Promise.resolve(NOT_RELAYED))
        .then(write)
        .catch((error) => console.error("access log write failed", requestId, String(error))),
    );
  });
}
