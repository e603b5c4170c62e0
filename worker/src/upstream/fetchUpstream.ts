/**
 * @module fetchUpstream
 * One call to the origin, with the two faults a facilitator must tell apart: the origin could not
 * be reached (502) and the origin did not send response headers in time (504).
 */
import { GatewayError } from "../errors";

/**
 * @param url the full origin URL
 * @param init method, headers and body
 * @param timeoutMs time allowed until the response headers arrive
 * @throws GatewayError 504 on timeout, 502 when the connection fails
 */
export async function fetchUpstream(url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  try {
    return await fetch(url, { ...init, signal: controller.signal, redirect: "manual" });
  } catch (error) {
    if (timedOut) {
      throw new GatewayError(504, `The origin did not answer within ${timeoutMs} ms.`, "upstream_timeout");
    }
    console.error("upstream fetch failed", String(error));
    throw new GatewayError(502, "The origin could not be reached.", "upstream_unreachable");
  } finally {
    clearTimeout(timer);
  }
}
