/**
 * @module fetchUpstream
 * One call to the origin, with the three ends a facilitator must tell apart until the headers
 * arrive: the origin could not be reached (502), it did not send response headers in time (504),
 * and the client left first (499 — the call is aborted, so the origin stops working for nobody).
 */
import { clientClosed, GatewayError } from "../errors";

/**
 * @param url the full origin URL
 * @param init method, headers and body
 * @param timeoutMs time allowed until the response headers arrive
 * @param clientSignal the incoming request's signal: aborts the call when the client leaves
 * @throws GatewayError 504 on timeout, 502 when the connection fails, 499 when the client left
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
  try {
    if (clientSignal?.aborted) throw clientClosed("before the origin answered");
    return await fetch(url, { ...init, signal: controller.signal, redirect: "manual" });
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    if (timedOut) {
      throw new GatewayError(504, `The origin did not answer within ${timeoutMs} ms.`, "upstream_timeout");
    }
    if (clientSignal?.aborted) throw clientClosed("before the origin answered");
    console.error("upstream fetch failed", String(error));
    throw new GatewayError(502, "The origin could not be reached.", "upstream_unreachable");
  } finally {
    clearTimeout(timer);
    clientSignal?.removeEventListener("abort", onClientGone);
  }
}
