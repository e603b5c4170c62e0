/**
 * @module middleware/originPool
 * The stage before the handler that owns origin choice and admission: it gives the handler a
 * {@link PoolSession} (`c.var.pool`, which also tells the access log the origin and the wait at
 * the gate) and, after the handler, gives the slot back when the answer has ended: the relay's
 * end (stream finished or the client left), at once for a failed answer, or when a body relayed
 * as it arrives has been sent. With `ORIGIN_MAX_CONCURRENCY` unset there is no gate and no
 * Durable Object call.
 */
import { createMiddleware } from "hono/factory";
import { gatePicker } from "../gate/gatePicker";
import { localPicker } from "../gate/localPicker";
import type { OriginPicker } from "../gate/picker";
import type { OriginVariables } from "../handlers/proxyHandler";
import type { StageEnv } from "../types";
import { PoolSession } from "../upstream/pool";
import { watchBody } from "../upstream/watchBody";
import type { AccessLogVariables } from "./accessLog";
import type { IdentityVariables } from "./identifyUser";
import type { ConfigVariables } from "./loadConfig";

/** Set by {@link originPool}. */
export type OriginPoolVariables = {
  /** Sends the request to the pool (origin choice, gate, retry once); knows where it went. */
  pool: PoolSession;
};

type PoolEnv = StageEnv<AccessLogVariables & ConfigVariables & IdentityVariables & OriginPoolVariables & Partial<OriginVariables>>;

/** Relayed as it arrives, not metered: only watching the body tells when the origin is done. */
function isPassThrough(contentType: string): boolean {
  return !/json/i.test(contentType) && !contentType.startsWith("text/event-stream");
}

export function originPool() {
  return createMiddleware<PoolEnv>(async function originPool(c, next) {
    const { config, user, requestId } = c.var;
    const limits = config.originMaxConcurrency;
    const picker: OriginPicker = limits
      ? gatePicker({
          namespace: c.env.ORIGIN_GATE,
          origins: config.origins,
          limits,
          queueTimeoutMs: config.originQueueTimeoutMs,
          user: user.limiterKey,
          ticket: requestId,
          signal: c.req.raw.signal,
        })
      : localPicker(config.origins);
    const background = (promise: Promise<unknown>) => c.executionCtx.waitUntil(promise);
    const session = new PoolSession(picker, config.origins, background, c.req.raw.signal);
    c.set("pool", session);

    await next();

    if (!session.holdsSlot) return;
    let ended: Promise<unknown> = c.var.origin?.relayed ?? Promise.resolve();
    if (c.res.body && isPassThrough(c.res.headers.get("content-type") ?? "")) {
      const watched = watchBody(c.res.body);
      c.res = new Response(watched.stream, { status: c.res.status, headers: c.res.headers });
      ended = watched.ended;
    }
    background(ended.finally(() => session.finish()));
  });
}
