/**
 * @module handlers/proxyHandler
 * Sends an identified, admitted request to the origin and relays the answer: the origin's status,
 * safe headers and body. Event streams are relayed event by event; JSON bodies are read once to
 * learn their token usage. The origin pool (`c.var.pool`) chooses the origin and holds its slot;
 * faults reaching the origin become 502/504 via `fetchUpstream`. What it
 * learns (when the headers came, the tokens, how the relay ended) it publishes as `c.var.origin`
 * for the access log; it writes no log field itself.
 */
import type { Context } from "hono";
import type { AccessLogVariables } from "../middleware/accessLog";
import type { IdentityVariables } from "../middleware/identifyUser";
import type { ConfigVariables } from "../middleware/loadConfig";
import type { OriginCredentialVariables } from "../middleware/originCredential";
import type { OriginPoolVariables } from "../middleware/originPool";
import type { BodyVariables } from "../middleware/readBody";
import type { StageEnv } from "../types";
import { clientResponseHeaders, upstreamRequestHeaders } from "../upstream/headers";
import { meterEventStream, type StreamOutcome } from "../upstream/meterEventStream";
import { totalTokensInJson } from "../upstream/usage";

/** The origin's answer, as far as the access log needs it. */
export interface OriginExchange {
  /** When the origin's response headers arrived (epoch ms). */
  headersAt: number;
  /** Resolves once the answer has been relayed to the client: its token usage and how it ended. */
  relayed: Promise<StreamOutcome>;
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

export async function proxyHandler(c: Context<ProxyEnv>): Promise<Response> {
  const { config, user, body, requestId } = c.var;
  const url = new URL(c.req.url);
  const headers = upstreamRequestHeaders(c.req.raw.headers, {
    userId: user.userId,
    requestId,
    auth: c.var.originCredential,
    dropAuthorization: config.authMode === "codex",
  });
  const upstream = await c.var.pool.send(
    url.pathname,
    url.search,
    {
      method: c.req.method,
      headers,
      body: BODYLESS_METHODS.has(c.req.method) ? null : body.bytes,
    },
    config.upstreamTimeoutMs,
  );
  const headersAt = Date.now();

  const contentType = upstream.headers.get("content-type") ?? "";
  if (upstream.body && contentType.startsWith("text/event-stream")) {
    const { stream, outcome } = meterEventStream(upstream.body, body.hideUsageChunk);
    c.set("origin", { headersAt, relayed: outcome });
    return new Response(stream, { status: upstream.status, headers: clientResponseHeaders(upstream.headers, true) });
  }
  if (upstream.body && /json/i.test(contentType)) {
    const text = await upstream.text();
    c.set("origin", { headersAt, relayed: Promise.resolve({ tokens: totalTokensInJson(text), failure: null }) });
    return new Response(text, { status: upstream.status, headers: clientResponseHeaders(upstream.headers, true) });
  }
  c.set("origin", { headersAt, relayed: Promise.resolve({ tokens: null, failure: null }) });
  return new Response(upstream.body, {
    status: upstream.status,
    headers: clientResponseHeaders(upstream.headers, false),
  });
}
