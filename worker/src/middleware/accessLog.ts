/**
 * @module middleware/accessLog
 * Outermost middleware: gives the request its id and, once the response — streams included — has
 * been sent, accounts for it exactly once. A request whose identity was verified (`c.var.user`,
 * set by `identifyUser`) gets one row built by `accessRecordOf` from what the stages published
 * (identity, body, origin pool, origin exchange, answered error); it is the only writer of that
 * row. Any other request is a stranger's (no valid id, a bad key, an unknown path, a refusal before
 * identity was checked): it is never logged under the id it claims, and is only counted per minute
 * and class (`lib/strangers.ts`), so strangers cannot spend the log's write quota. Writes run in
 * `executionCtx.waitUntil`, so logging never delays or breaks a response.
 */
import { createMiddleware } from "hono/factory";
import { accessRecordOf, insertAccessRecord } from "../lib/accessLog";
import { ipHash } from "../lib/crypto";
import { flushDelayOf, strangers } from "../lib/strangers";
import type { AppEnv } from "../types";
import type { RelayOutcome } from "../upstream/relay";

/** Set by {@link accessLog} for every request, before any other stage runs. */
export type AccessLogVariables = {
  requestId: string;
};

/** Paths answered without a log row: health probes would spend the D1 write quota. */
const UNLOGGED_PATHS = new Set(["/health"]);

/** The relay outcome of a request the origin never answered. */
const NOT_RELAYED: RelayOutcome = { tokens: null, failure: null };

export function accessLog() {
  return createMiddleware<AppEnv>(async function accessLog(c, next) {
    const startedAt = Date.now();
    const requestId = crypto.randomUUID();
    c.set("requestId", requestId);

    await next();

    c.res.headers.set("X-Request-ID", requestId);
    if (UNLOGGED_PATHS.has(c.req.path)) return;
    const { user, body, pool, origin, answeredError } = c.var;
    const status = c.res.status;
    if (!user) {
      const flush = strangers.count(
        c.env.DB,
        startedAt,
        answeredError?.errorClass ?? "unverified",
        status,
        flushDelayOf(c.env.STRANGER_FLUSH_MS),
      );
      if (flush) c.executionCtx.waitUntil(flush.catch((error) => console.error("stranger counts write failed", String(error))));
      return;
    }
    const ip = c.req.header("CF-Connecting-IP") ?? null;
    const salt = c.env.IP_HASH_SALT || null;
    const write = async ({ tokens, failure }: RelayOutcome) => {
      const finishedAt = Date.now();
      const record = accessRecordOf({
        requestId,
        method: c.req.method,
        path: c.req.path,
        startedAt,
        finishedAt,
        status,
        userId: user.userId,
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
