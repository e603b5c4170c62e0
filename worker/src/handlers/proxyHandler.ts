/**
 * @module handlers/proxyHandler
 * Sends a validated, admitted request to the origin and relays the answer: the origin's status,
 * safe headers and body. Event streams are relayed event by event; JSON bodies are read once to
 * learn their token usage. The pool session (`c.var.pool`) picks the origin and holds its slot;
 * faults reaching the origin become 502/504 via `fetchUpstream`.
 */
import type { Context } from "hono";
import { clientResponseHeaders, upstreamRequestHeaders } from "../upstream/headers";
import { meterEventStream } from "../upstream/meterEventStream";
import { totalTokensInJson } from "../upstream/usage";
import type { AppEnv } from "../types";

const BODYLESS_METHODS = new Set(["GET", "HEAD"]);

export async function proxyHandler(c: Context<AppEnv>): Promise<Response> {
  const { config, validated, record, requestId } = c.var;
  const url = new URL(c.req.url);
  const headers = upstreamRequestHeaders(c.req.raw.headers, {
    userId: validated.userId,
    requestId,
    auth: c.var.upstreamAuth,
    dropAuthorization: config.authMode === "codex",
  });
  const startedAt = Date.now();
  const upstream = await c.var.pool.send(
    url.pathname,
    url.search,
    {
      method: c.req.method,
      headers,
      body: BODYLESS_METHODS.has(c.req.method) ? null : validated.body,
    },
    config.upstreamTimeoutMs,
  );
  record.ttfb_ms = Date.now() - startedAt;

  const contentType = upstream.headers.get("content-type") ?? "";
  if (upstream.body && contentType.startsWith("text/event-stream")) {
    const { stream, outcome } = meterEventStream(upstream.body, validated.hideUsageChunk);
    c.set(
      "bodyDone",
      outcome.then(({ tokens, failure }) => {
        record.tokens_est = tokens;
        record.error_class = failure;
      }),
    );
    return new Response(stream, { status: upstream.status, headers: clientResponseHeaders(upstream.headers, true) });
  }
  if (upstream.body && /json/i.test(contentType)) {
    const text = await upstream.text();
    record.tokens_est = totalTokensInJson(text);
    return new Response(text, { status: upstream.status, headers: clientResponseHeaders(upstream.headers, true) });
  }
  return new Response(upstream.body, {
    status: upstream.status,
    headers: clientResponseHeaders(upstream.headers, false),
  });
}
