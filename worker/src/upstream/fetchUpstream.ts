/**
 * @module fetchUpstream
 * One call to the origin, with the ends a facilitator must tell apart until the headers arrive:
 * the origin could not be reached (502), it did not send response headers in time (504), and the
 * client left first (499 `client_closed`: the call is aborted, so the origin stops working for
 * nobody, and the access log shows it instead of a 200). The fault also
 * says whether the request surely never reached the origin (a refused connection), which is
 * what makes a retry on another origin of the pool safe.
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { clientClosed, GatewayError } from "../errors";

/**
 * workerd reports a refused connection as "Network connection lost." within milliseconds (2–21 ms
 * measured here) and does not say whether bytes were sent; a loss this early is treated as a
 * refusal, a later one (the origin died while working) is not.
 */
export const REFUSED_WITHIN_MS = 500;

export type FaultKind = "refused" | "lost" | "timeout" | "client_left";

/** A failed call to the origin: a GatewayError that also says what kind of failure it was. */
export class UpstreamFault extends GatewayError {
  readonly kind: FaultKind;

  constructor(kind: FaultKind, timeoutMs: number) {
    if (kind === "timeout") super(504, `The origin did not answer within ${timeoutMs} ms.`, "upstream_timeout");
    else if (kind === "client_left") {
      const closed = clientClosed("before the origin answered");
      super(closed.status as ContentfulStatusCode, closed.message, closed.errorClass);
    }
    else super(502, "The origin could not be reached.", "upstream_unreachable");
    this.kind = kind;
  }
}

/** Whether a fetch error after `elapsedMs` means the connection was refused before sending. */
export function isRefusal(error: unknown, elapsedMs: number): boolean {
  const text = String(error);
  if (/ECONNREFUSED|connection refused/i.test(text)) return true;
  return /Network connection lost/i.test(text) && elapsedMs < REFUSED_WITHIN_MS;
}

/**
 * @param url the full origin URL
 * @param init method, headers and body
 * @param timeoutMs time allowed until the response headers arrive
 * @param clientSignal aborts the call when the client leaves
 * @throws UpstreamFault 504 on timeout, 502 when the connection fails, 499 when the client left
 */
export async function fetchUpstream(
  url: string,
  init: RequestInit,
  timeoutMs: number,
  clientSignal?: AbortSignal,
): Promise<Response> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onClientGone = () => controller.abort();
  clientSignal?.addEventListener("abort", onClientGone);
  const startedAt = Date.now();
  try {
    if (clientSignal?.aborted) throw new Error("client left");
    return await fetch(url, { ...init, signal: controller.signal, redirect: "manual" });
  } catch (error) {
    if (timedOut) throw new UpstreamFault("timeout", timeoutMs);
    if (clientSignal?.aborted) throw new UpstreamFault("client_left", timeoutMs);
    console.error("upstream fetch failed", String(error));
    throw new UpstreamFault(isRefusal(error, Date.now() - startedAt) ? "refused" : "lost", timeoutMs);
  } finally {
    clearTimeout(timer);
    clientSignal?.removeEventListener("abort", onClientGone);
  }
}
