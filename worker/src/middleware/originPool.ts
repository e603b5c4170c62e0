/**
 * @module middleware/originPool
 * The stage before the handler that owns origin choice and admission: it gives the handler a
 * {@link PoolSession} (`c.var.pool`) and, after the handler, gives the slot back when the answer
 * has ended: the stream's end, the client leaving, or at once for a buffered or failed answer.
 * With `ORIGIN_MAX_CONCURRENCY` unset there is no gate and no Durable Object call.
 * Owns the access-log fields `origin` and `gate_wait_ms` (written by the session).
 */
import { createMiddleware } from "hono/factory";
import { gatePicker } from "../gate/gatePicker";
import { localPicker } from "../gate/localPicker";
import type { OriginPicker } from "../gate/picker";
import type { AppEnv } from "../types";
import { PoolSession } from "../upstream/pool";
import { watchBody } from "../upstream/watchBody";

export type OriginPoolVariables = {
  /** Sends the request to the pool (origin choice, gate, retry once). */
  pool: PoolSession;
};

export function originPool() {
  return createMiddleware<AppEnv>(async function originPool(c, next) {
    const { config, validated, requestId } = c.var;
    const limits = config.originMaxConcurrency;
    const picker: OriginPicker = limits
      ? gatePicker({
          namespace: c.env.ORIGIN_GATE,
          origins: config.origins,
          limits,
          queueTimeoutMs: config.originQueueTimeoutMs,
          user: validated.limiterKey,
          ticket: requestId,
          signal: c.req.raw.signal,
        })
      : localPicker(config.origins);
    const background = (promise: Promise<unknown>) => c.executionCtx.waitUntil(promise);
    const session = new PoolSession(picker, config.origins, c.var.record, background, c.req.raw.signal);
    c.set("pool", session);

    await next();

    if (!session.holdsSlot) return;
    let ended: Promise<unknown> | undefined = c.var.bodyDone;
    if (!ended && c.res.body && !/json/i.test(c.res.headers.get("content-type") ?? "")) {
      // A body relayed as it arrives: the origin is still working until it has been sent.
      const watched = watchBody(c.res.body);
      c.res = new Response(watched.stream, { status: c.res.status, headers: c.res.headers });
      ended = watched.ended;
    }
    background((ended ?? Promise.resolve()).finally(() => session.finish()));
  });
}
