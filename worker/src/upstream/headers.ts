/**
 * @module headers
 * Which headers cross the gateway in each direction.
 *
 * To the origin: the client's headers minus hop-by-hop ones (RFC 9110 §7.6.1, and any header the
 * request's `Connection` names), minus everything the gateway itself reads or sets (`X-User-ID`,
 * `X-User-Key`, `X-Codex-Token`, `X-Request-ID`), minus every header a client could use to lie to
 * the origin about where the request came from or what it asks for: forwarding (`Forwarded`,
 * `X-Forwarded-*`, `Via`), client IPs (`X-Real-IP`, `True-Client-IP`, `CF-*`, …) and URL or
 * method overrides (`X-Original-URL`, `X-HTTP-Method-Override`, …). Then the gateway's own
 * `X-Forwarded-User`, `X-Request-ID` and, in codex mode, `X-Codex-Token` in place of `Authorization`.
 *
 * To the client: the origin's headers minus hop-by-hop ones (and those its `Connection` names),
 * cookies, server banners and the gateway's own headers. A redirect's `Location` is handled by
 * {@link gatewayLocation}.
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

/** Request headers only the gateway may set or read, and ones a client could lie with. */
const NEVER_TO_ORIGIN = new Set([
  // the gateway's own
  "x-user-id",
  "x-user-key",
  "x-codex-token",
  "x-request-id",
  // forwarding
  "forwarded",
  "via",
  "cdn-loop",
  // client IPs
  "x-real-ip",
  "x-client-ip",
  "client-ip",
  "true-client-ip",
  "x-cluster-client-ip",
  "fastly-client-ip",
  "x-originating-ip",
  "x-remote-ip",
  "x-remote-addr",
  "x-proxyuser-ip",
  // URL and method overrides
  "x-original-url",
  "x-rewrite-url",
  "x-override-url",
  "x-original-uri",
  "x-original-host",
  "x-host",
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
  "x-original-method",
]);

/** Request header prefixes never forwarded: `X-Forwarded-*` (the gateway sets its own), `CF-*`. */
const NEVER_TO_ORIGIN_PREFIXES = ["x-forwarded-", "cf-"];

/** Response headers the client never sees: cookies, banners naming the origin's software or hosts. */
const NEVER_TO_CLIENT = new Set([
  "set-cookie",
  "set-cookie2",
  "server",
  "x-powered-by",
  "via",
  "x-aspnet-version",
  "x-aspnetmvc-version",
  "x-served-by",
  "x-backend-server",
  "x-server",
  "alt-svc",
  "x-request-id",
]);

/** The header names a message's `Connection` header lists (RFC 9110 §7.6.1: hop-by-hop too). */
export function connectionNamed(headers: Headers): Set<string> {
  const listed = headers.get("connection") ?? "";
  return new Set(
    listed
      .split(",")
      .map((name) => name.trim().toLowerCase())
      .filter(Boolean),
  );
}

function toOrigin(lower: string, named: Set<string>): boolean {
  if (HOP_BY_HOP.has(lower) || NEVER_TO_ORIGIN.has(lower) || named.has(lower)) return false;
  return !NEVER_TO_ORIGIN_PREFIXES.some((prefix) => lower.startsWith(prefix));
}

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
  const named = connectionNamed(incoming);
  const out = new Headers();
  for (const [name, value] of incoming) {
    const lower = name.toLowerCase();
    if (!toOrigin(lower, named)) continue;
    if (lower === "authorization" && options.dropAuthorization) continue;
    out.set(name, value);
  }
  out.set("X-Forwarded-User", options.userId);
  out.set("X-Request-ID", options.requestId);
  if (options.auth) out.set(options.auth.name, options.auth.value);
  return out;
}

/**
 * The origin's response headers that are safe to pass to the client (Content-Type included).
 * `Location` is left out: the caller sets the gateway's own (see {@link gatewayLocation}).
 */
export function clientResponseHeaders(upstream: Headers, bodyRewritten: boolean): Headers {
  const named = connectionNamed(upstream);
  const out = new Headers();
  for (const [name, value] of upstream) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || NEVER_TO_CLIENT.has(lower) || named.has(lower)) continue;
    if (lower.startsWith("x-ratelimit-") || lower === "location") continue;
    if (bodyRewritten && lower === "content-encoding") continue;
    out.append(name, value);
  }
  return out;
}

/**
 * Where a redirect from the origin should send the client, or null when it must not be passed on.
 * A `Location` that resolves (against the URL the gateway called) to the origin itself, under its
 * base path and inside `/v1/`, is the same resource seen through the gateway: it becomes the
 * gateway-relative path (`http://origin/base/v1/models/` → `/v1/models/`). Anything else — another
 * host or port, a path outside the base — would show the client the origin's internal address or
 * send it around the gateway, so the caller answers 502 instead.
 * @param location the origin's `Location` value
 * @param calledUrl the origin URL the gateway requested
 * @param base `OPENCLAW_URL` of the origin that answered
 * @example gatewayLocation("/base/v1/x", "http://o/base/v1/y", "http://o/base") // "/v1/x"
 */
export function gatewayLocation(location: string, calledUrl: string, base: string): string | null {
  if (!URL.canParse(location, calledUrl)) return null;
  const target = new URL(location, calledUrl);
  const origin = new URL(base);
  if (target.origin !== origin.origin) return null;
  const prefix = origin.pathname.replace(/\/+$/, "");
  if (prefix && !target.pathname.startsWith(`${prefix}/`)) return null;
  const path = target.pathname.slice(prefix.length);
  if (!path.startsWith("/v1/")) return null;
  return path + target.search + target.hash;
}

/**
 * The origin URL for a gateway path: `OPENCLAW_URL` (with any path prefix it has) + the request
 * path + the query string.
 */
export function upstreamUrl(base: string, path: string, search: string): string {
  return base.replace(/\/+$/, "") + path + search;
}
