/**
 * @module gate/gatePicker
 * The Worker's side of the origin gate: asks the pool's {@link OriginGate} for a slot, renews the
 * lease while the answer is being sent, and gives it back at the end. A client that leaves while
 * waiting takes its place out of the queue at once.
 */
import { GatewayError } from "../errors";
import { UpstreamFault } from "../upstream/fetchUpstream";
import { RENEW_MS } from "./admission";
import type { Outcome } from "./health";
import { gateName, type Admission, type OriginGate } from "./OriginGate";
import { GateRefusal, type OriginPicker, type OriginSlot } from "./picker";

export interface GateOptions {
  namespace: DurableObjectNamespace<OriginGate>;
  origins: string[];
  limits: number[];
  queueTimeoutMs: number;
  /** Whose request: the queue is fair across users. */
  user: string;
  /** Unique per request; each attempt adds a suffix. */
  ticket: string;
  /** Aborts when the client leaves. */
  signal?: AbortSignal;
}

/** Resolves like `promise`, or rejects as soon as `signal` aborts. */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new UpstreamFault("client_left", 0));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

export function gatePicker(options: GateOptions): OriginPicker {
  let stub: DurableObjectStub<OriginGate>;
  let attempt = 0;
  return {
    gated: true,
    async acquire(exclude) {
      const ticket = `${options.ticket}#${attempt++}`;
      let admission: Admission;
      try {
        stub ??= options.namespace.get(options.namespace.idFromName(gateName(options.origins)));
        const request = { ticket, user: options.user, limits: options.limits, queueTimeoutMs: options.queueTimeoutMs, exclude };
        admission = await unlessAborted(stub.acquire(request) as Promise<Admission>, options.signal);
      } catch (error) {
        if (error instanceof UpstreamFault) {
          await stub.release(ticket, -1, "abandoned").catch(() => {});
          throw error;
        }
        console.error("origin gate failed", String(error));
        throw new GatewayError(502, "The origin gate is unavailable; try again shortly.", "gate_unavailable");
      }
      if (admission.kind === "granted") return slot(ticket, admission.origin, admission.waitedMs);
      throw new GateRefusal(admission.kind === "down" ? "down" : "busy", admission.retryAfterS, admission.waitedMs);
    },
  };

  /** A held slot: renewed every RENEW_MS until released. */
  function slot(ticket: string, origin: number, waitedMs: number): OriginSlot {
    const renewal = setInterval(() => {
      stub.renew(ticket, origin).catch((error: unknown) => console.error("lease renewal failed", String(error)));
    }, RENEW_MS);
    let released = false;
    return {
      origin,
      waitedMs,
      async release(outcome: Outcome) {
        if (released) return;
        released = true;
        clearInterval(renewal);
        await stub.release(ticket, origin, outcome).catch((error: unknown) => console.error("lease release failed", String(error)));
      },
    };
  }
}
