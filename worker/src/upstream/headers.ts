/**
 * @module headers
 * Which headers cross the gateway in each direction. The origin sees the client's headers minus
 * hop-by-hop ones and minus everything the gateway itself reads or sets (`X-User-ID`,
 * `X-User-Key`, Cloudflare's `CF-*`, client-supplied forwarding and auth-swap headers), plus
 * `X-Forwarded-User` and, in codex mode, `X-Codex-Token` in place of `Authorization`.
 */

/** RFC 9110 §7.6.1 hop-by-hop headers, and ones the runtime recomputes. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
]);

/** Headers only the gateway may set or read: a client cannot smuggle these to the origin. */
const GATEWAY_OWNED = new Set([
  "x-user-id",
  "x-user-key",
  "x-forwarded-user",
  "x-forwarded-for",
  "x-real-ip",
  "x-codex-token",
  "x-request-id",
  "forwarded",
  "true-client-ip",
]);

export interface UpstreamHeaderOptions {
  userId: string;
  requestId: string;
  /** In codex mode: the header that replaces the client's Authorization. */
  auth: { name: string; value: string } | null;
  /** Drop the client's Authorization (codex mode never forwards it). */
  dropAuthorization: boolean;
}

/** The headers sent to the origin for one request. */
export function upstreamRequestHeaders(incoming: Headers, options: UpstreamHeaderOptions): Headers {
  const out = new Headers();
  for (const [name, value] of incoming) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || GATEWAY_OWNED.has(lower) || lower.startsWith("cf-")) continue;
    if (lower === "authorization" && options.dropAuthorization) continue;
    out.set(name, value);
  }
  out.set("X-Forwarded-User", options.userId);
  out.set("X-Request-ID", options.requestId);
  if (options.auth) out.set(options.auth.name, options.auth.value);
  return out;
}

/** The origin's response headers that are safe to pass to the client (Content-Type included). */
export function clientResponseHeaders(upstream: Headers, bodyRewritten: boolean): Headers {
  const out = new Headers();
  for (const [name, value] of upstream) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || lower.startsWith("x-ratelimit-") || lower === "x-request-id") continue;
    if (bodyRewritten && lower === "content-encoding") continue;
    out.append(name, value);
  }
  return out;
}

/**
 * The origin URL for a gateway path: `OPENCLAW_URL` (with any path prefix it has) + the request
 * path + the query string.
 */
export function upstreamUrl(base: string, path: string, search: string): string {
  return base.replace(/\/+$/, "") + path + search;
}
