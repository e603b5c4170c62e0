/**
 * @module handlers/proxyHandler
 * Sends an identified, admitted request to the origin and relays the answer: the origin's status,
 * safe headers and body. Event streams are relayed event by event; JSON bodies are read whole
 * (to learn their token usage) and everything else passes as it arrives — each with the idle
 * timeout after the headers (`relay.ts`). The origin pool (`c.var.pool`) chooses the origin and
 * holds its slot; faults before the headers become 502/504/499 via `fetchUpstream`; a redirect that would leave the gateway becomes 502 `upstream_redirect`. What it
 * learns (when the headers came, the tokens, how the relay ended) it publishes as `c.var.origin`
 * for the access log; it writes no log field itself.
 */
import type { Context } from "hono";
import { GatewayError } from "../errors";
import type { AccessLogVariables } from "../middleware/accessLog";
import type { IdentityVariables } from "../middleware/identifyUser";
import type { ConfigVariables } from "../middleware/loadConfig";
import type { OriginCredentialVariables } from "../middleware/originCredential";
import type { OriginPoolVariables } from "../middleware/originPool";
import type { BodyVariables } from "../middleware/readBody";
import type { StageEnv } from "../types";
import { clientResponseHeaders, gatewayLocation, upstreamRequestHeaders, upstreamUrl } from "../upstream/headers";
import { meterEventStream } from "../upstream/meterEventStream";
import { readWholeBody, relayBody, type RelayOutcome } from "../upstream/relay";
import { totalTokensInBody } from "../upstream/usage";

/** The origin's answer, as far as the access log needs it. */
export interface OriginExchange {
  /** When the origin's response headers arrived (epoch ms). */
  headersAt: number;
  /** Resolves once the answer has been relayed to the client: its token usage and how it ended. */
  relayed: Promise<RelayOutcome>;
}

/** Set by {@link proxyHandler} once the origin has answered (absent when it never did). */
export type OriginVariables = {
  origin: OriginExchange;
};

type ProxyEnv = StageEnv<
  AccessLogVariables &
    ConfigVariables &
    IdentityVariables &
    BodyVariables &
    OriginCredentialVariables &
    OriginPoolVariables &
    OriginVariables
>;

const BODYLESS_METHODS = new Set(["GET", "HEAD"]);

function upstreamRedirect(): GatewayError {
  return new GatewayError(502, "The origin answered with a redirect that leads outside the gateway.", "upstream_redirect");
}

/**
 * The client's headers for a response: the safe ones, plus the gateway's own `Location` for a
 * redirect that stays inside the gateway.
 * @throws GatewayError 502 `upstream_redirect` for one that would not
 */
function responseHeaders(upstream: Response, calledUrl: string, base: string, bodyRewritten: boolean): Headers {
  const headers = clientResponseHeaders(upstream.headers, bodyRewritten);
  const location = upstream.headers.get("location");
  if (location === null || upstream.status < 300 || upstream.status > 399) return headers;
  const mapped = gatewayLocation(location, calledUrl, base);
  if (mapped === null) throw upstreamRedirect();
  headers.set("Location", mapped);
  return headers;
}

export async function proxyHandler(c: Context<ProxyEnv>): Promise<Response> {
  const { config, user, body, requestId } = c.var;
  const url = new URL(c.req.url);
  const clientSignal = c.req.raw.signal;
  const headers = upstreamRequestHeaders(c.req.raw.headers, {
    userId: user.userId,
    requestId,
    auth: c.var.originCredential,
    dropAuthorization: config.authMode === "codex",
  });
  const upstream = await c.var.pool.send(
    url.pathname,
    url.search,
    { method: c.req.method, headers, body: BODYLESS_METHODS.has(c.req.method) ? null : body.bytes },
    config.upstreamTimeoutMs,
  );
  const headersAt = Date.now();
  // The origin that answered: a redirect is mapped against its base URL.
  const base = config.origins[c.var.pool.origin ?? 0];
  const calledUrl = upstreamUrl(base, url.pathname, url.search);
  const idleMs = config.upstreamIdleTimeoutMs;

  const contentType = upstream.headers.get("content-type") ?? "";
  const isStream = contentType.startsWith("text/event-stream");
  let safeHeaders: Headers;
  try {
    safeHeaders = responseHeaders(upstream, calledUrl, base, isStream || /json/i.test(contentType));
  } catch (error) {
    await upstream.body?.cancel().catch(() => {});
    throw error;
  }

  if (upstream.body && isStream) {
    const { stream, outcome } = meterEventStream(upstream.body, { hideUsageChunk: body.hideUsageChunk, idleMs });
    c.set("origin", { headersAt, relayed: outcome });
    return new Response(stream, { status: upstream.status, headers: safeHeaders });
  }
  if (upstream.body && /json/i.test(contentType)) {
    const bytes = await readWholeBody(upstream.body, idleMs, clientSignal);
    c.set("origin", { headersAt, relayed: Promise.resolve({ tokens: totalTokensInBody(bytes), failure: null }) });
    return new Response(bytes, { status: upstream.status, headers: safeHeaders });
  }
  if (upstream.body) {
    const { stream, outcome } = relayBody(upstream.body, idleMs);
    c.set("origin", { headersAt, relayed: outcome });
    return new Response(stream, { status: upstream.status, headers: safeHeaders });
  }
  c.set("origin", { headersAt, relayed: Promise.resolve({ tokens: null, failure: null }) });
  return new Response(null, { status: upstream.status, headers: safeHeaders });
}
