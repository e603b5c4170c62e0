/**
 * Pure pieces of the gateway, tested without a request: window arithmetic, user ids, keys,
 * body inspection, header filtering, event splitting and the access-log row.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import type { GatewayConfig } from "../src/config";
import type { Identity } from "../src/middleware/identifyUser";
import { accessRecordOf, type RequestFacts } from "../src/lib/accessLog";
import { inspectJsonBody } from "../src/lib/body";
import { ipHash, userKeyFor, verifyUserKey } from "../src/lib/crypto";
import { checkUserId, claimedUserId } from "../src/lib/userId";
import { takeToken, windowStartOf } from "../src/limiter/window";
import { clientResponseHeaders, upstreamRequestHeaders, upstreamUrl } from "../src/upstream/headers";
import { splitEvents } from "../src/upstream/meterEventStream";
import type { AppEnv } from "../src/types";
import { totalTokensInEvent, totalTokensInJson } from "../src/upstream/usage";

describe("takeToken (fixed UTC-minute window)", () => {
  const t0 = Date.UTC(2026, 10, 28, 9, 30, 0);

  it("admits up to the limit, then refuses without counting further", () => {
    let state = null;
    const allowed: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      const step = takeToken(state, 3, t0 + i * 1000);
      state = step.state;
      allowed.push(step.decision.allowed);
    }
    expect(allowed).toEqual([true, true, true, false, false]);
    expect(state).toEqual({ windowStart: t0, count: 3 });
  });

  it("reports remaining and the reset at the next UTC minute", () => {
    const { decision } = takeToken(null, 50, t0 + 59_999);
    expect(decision).toEqual({ allowed: true, limit: 50, remaining: 49, resetAt: t0 + 60_000 });
  });

  it("starts a new window at the minute boundary", () => {
    const full = { windowStart: t0, count: 50 };
    expect(takeToken(full, 50, t0 + 59_999).decision.allowed).toBe(false);
    const next = takeToken(full, 50, t0 + 60_000);
    expect(next.decision.allowed).toBe(true);
    expect(next.state).toEqual({ windowStart: t0 + 60_000, count: 1 });
  });

  it("never admits with limit 0 and never reports negative remaining", () => {
    const { decision } = takeToken({ windowStart: t0, count: 10 }, 5, t0);
    expect(decision.allowed).toBe(false);
    expect(decision.remaining).toBe(0);
    expect(takeToken(null, 0, t0).decision.allowed).toBe(false);
  });

  it("aligns windows to UTC minutes", () => {
    expect(windowStartOf(t0 + 12_345)).toBe(t0);
  });
});

describe("checkUserId", () => {
  it.each([
    ["alice", "valid"],
    ["a.b_c-d@example.org", "valid"],
    ["x".repeat(64), "valid"],
    ["x".repeat(65), "invalid"],
    ["has space", "invalid"],
    ["ünïcode", "invalid"],
    ["~missing", "invalid"],
    ["", "missing"],
    ["   ", "missing"],
  ])("%j is %s", (value, kind) => {
    expect(checkUserId(value).kind).toBe(kind);
  });

  it("treats an absent header as missing", () => {
    expect(checkUserId(null)).toEqual({ kind: "missing", userId: "~missing" });
  });

  it("names a request without an id ~anonymous only when anonymous callers are allowed", () => {
    expect(claimedUserId(checkUserId(null), true)).toBe("~anonymous");
    expect(claimedUserId(checkUserId(null), false)).toBe("~missing");
    expect(claimedUserId(checkUserId("bad id"), true)).toBe("~invalid");
    expect(claimedUserId(checkUserId("alice"), true)).toBe("alice");
  });
});

describe("user keys and IP hashes (HMAC-SHA256, cross-checked with Python's hmac)", () => {
  it("issues the same key as Python for the same secret and user", async () => {
    expect(await userKeyFor("workshop-secret", "alice")).toBe("aHTf5YX_hhiqNI8I2W0WlJfkT0qeBXGKwDHjwwBHpTY");
    expect(await userKeyFor("s3cr3t-ünïcode", "bob@example.org")).toBe("ZiuhHTk7xLwLQB6N-YNWdPJHZT4pAIO__FjK0NfKiFA");
  });

  it("verifies a key only for its own user and secret", async () => {
    const key = await userKeyFor("workshop-secret", "alice");
    expect(await verifyUserKey("workshop-secret", "alice", key)).toBe(true);
    expect(await verifyUserKey("workshop-secret", "mallory", key)).toBe(false);
    expect(await verifyUserKey("other-secret", "alice", key)).toBe(false);
    expect(await verifyUserKey("workshop-secret", "alice", key.slice(0, -1) + (key.endsWith("A") ? "B" : "A"))).toBe(false);
    expect(await verifyUserKey("workshop-secret", "alice", "not base64!")).toBe(false);
    expect(await verifyUserKey("workshop-secret", "alice", "")).toBe(false);
  });

  it("hashes IPs with the salt as key, truncated to 16 hex digits", async () => {
    expect(await ipHash("salt", "203.0.113.7")).toBe("549fe5bec61ee86f");
    expect(await ipHash("other", "203.0.113.7")).not.toBe("549fe5bec61ee86f");
  });
});

describe("inspectJsonBody", () => {
  const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  const decode = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes));

  it("reads the model and leaves a non-stream body untouched", () => {
    const body = encode({ model: "m1", messages: [] });
    const seen = inspectJsonBody(body);
    expect(seen).toMatchObject({ model: "m1", stream: false, addedUsage: false });
    expect(seen.forward).toBe(body);
  });

  it("asks for stream usage when the client did not, keeping its other stream options", () => {
    const seen = inspectJsonBody(encode({ model: "m", stream: true, stream_options: { other: 1 } }));
    expect(seen.addedUsage).toBe(true);
    expect(decode(seen.forward).stream_options).toEqual({ other: 1, include_usage: true });
  });

  it("does not rewrite when the client asked for usage itself", () => {
    const body = encode({ stream: true, stream_options: { include_usage: true } });
    expect(inspectJsonBody(body)).toMatchObject({ addedUsage: false, stream: true, forward: body });
  });

  it("rejects invalid JSON with a 400 GatewayError", () => {
    expect(() => inspectJsonBody(new TextEncoder().encode("{nope"))).toThrowError(/not valid JSON/);
  });

  it("accepts JSON that is not an object without inventing fields", () => {
    expect(inspectJsonBody(encode([1, 2]))).toMatchObject({ model: null, stream: false });
    expect(inspectJsonBody(encode({ model: 42 })).model).toBeNull();
  });
});

describe("headers", () => {
  it("strips gateway-owned, hop-by-hop and Cloudflare headers and adds X-Forwarded-User", () => {
    const incoming = new Headers({
      Authorization: "Bearer sk-client",
      "X-User-ID": "alice",
      "X-User-Key": "secret-key",
      "CF-Connecting-IP": "203.0.113.7",
      "CF-Ray": "abc",
      "X-Forwarded-User": "spoofed",
      "X-Codex-Token": "spoofed",
      Connection: "keep-alive",
      "Content-Type": "application/json",
      "X-Custom": "kept",
    });
    const out = upstreamRequestHeaders(incoming, { userId: "alice", requestId: "r1", auth: null, dropAuthorization: false });
    expect(Object.fromEntries(out)).toEqual({
      authorization: "Bearer sk-client",
      "content-type": "application/json",
      "x-custom": "kept",
      "x-forwarded-user": "alice",
      "x-request-id": "r1",
    });
  });

  it("swaps Authorization for X-Codex-Token in codex mode", () => {
    const out = upstreamRequestHeaders(new Headers({ Authorization: "Bearer sk-client" }), {
      userId: "bob",
      requestId: "r2",
      auth: { name: "X-Codex-Token", value: "oauth-bob" },
      dropAuthorization: true,
    });
    expect(out.get("authorization")).toBeNull();
    expect(out.get("x-codex-token")).toBe("oauth-bob");
  });

  it("keeps the origin's content type and drops its hop-by-hop headers", () => {
    const out = clientResponseHeaders(
      new Headers({ "Content-Type": "text/event-stream", "Transfer-Encoding": "chunked", "X-Origin": "1" }),
      true,
    );
    expect(Object.fromEntries(out)).toEqual({ "content-type": "text/event-stream", "x-origin": "1" });
  });

  it("joins the origin base, path and query", () => {
    expect(upstreamUrl("http://o.test/base/", "/v1/models", "?a=1&b=2")).toBe("http://o.test/base/v1/models?a=1&b=2");
  });
});

describe("event splitting and usage", () => {
  it("splits complete events and keeps the partial rest, for any line ending", () => {
    expect(splitEvents("data: 1\n\ndata: 2\r\n\r\ndata: 3")).toEqual({
      events: ["data: 1\n\n", "data: 2\r\n\r\n"],
      rest: "data: 3",
    });
  });

  it("finds total_tokens in JSON bodies and events, and nothing elsewhere", () => {
    expect(totalTokensInJson('{"usage":{"total_tokens":42}}')).toBe(42);
    expect(totalTokensInJson('{"usage":null}')).toBeNull();
    expect(totalTokensInJson("not json")).toBeNull();
    expect(totalTokensInEvent('data: {"choices":[],"usage":{"total_tokens":7}}\n\n')).toBe(7);
    expect(totalTokensInEvent("data: [DONE]\n\n")).toBeNull();
    expect(totalTokensInEvent('data: {"content":"say \\"usage\\""}\n\n')).toBeNull();
  });
});

describe("accessRecordOf", () => {
  const t0 = Date.UTC(2026, 10, 28, 9, 30, 0, 123);
  const facts: RequestFacts = {
    requestId: "r1",
    method: "POST",
    path: "/v1/chat/completions",
    startedAt: t0,
    finishedAt: t0 + 900,
    status: 200,
    userId: "alice",
    body: { model: "m", stream: true },
    answeredErrorClass: null,
    originHeadersAt: t0 + 250,
    tokens: 12,
    relayFailure: null,
    ipHash: null,
    originIndex: 1,
    gateWaitMs: 40,
  };

  it("times ttfb and latency from the request's start", () => {
    expect(accessRecordOf(facts)).toEqual({
      request_id: "r1",
      user_id: "alice",
      method: "POST",
      endpoint: "/v1/chat/completions",
      model: "m",
      status: 200,
      latency_ms: 900,
      ttfb_ms: 250,
      tokens_est: 12,
      stream: true,
      error_class: null,
      ip_hash: null,
      created_at: "2026-11-28 09:30:00.123",
      origin: "1",
      gate_wait_ms: 40,
    });
    expect(accessRecordOf({ ...facts, originHeadersAt: null }).ttfb_ms).toBeNull();
  });

  it("logs the origin's pool index as text, and no origin or wait when there was none", () => {
    expect(accessRecordOf({ ...facts, originIndex: 0, gateWaitMs: 0 })).toMatchObject({ origin: "0", gate_wait_ms: 0 });
    expect(accessRecordOf({ ...facts, originIndex: null, gateWaitMs: null })).toMatchObject({ origin: null, gate_wait_ms: null });
  });

  it("classifies an origin error status when the relay (stream or not) ended normally", () => {
    expect(accessRecordOf({ ...facts, status: 503, relayFailure: null }).error_class).toBe("upstream_error");
    expect(accessRecordOf({ ...facts, status: 404, relayFailure: null }).error_class).toBe("upstream_client_error");
  });

  it("prefers the gateway's own error, then how the relay ended, to the status", () => {
    expect(accessRecordOf({ ...facts, status: 429, answeredErrorClass: "rate_limited" }).error_class).toBe("rate_limited");
    expect(accessRecordOf({ ...facts, status: 503, relayFailure: "client_closed" }).error_class).toBe(
      "client_closed",
    );
  });

  it("logs no model or stream flag when the body was never read", () => {
    expect(accessRecordOf({ ...facts, body: null })).toMatchObject({ model: null, stream: false });
  });
});

describe("context types (checked by tsc)", () => {
  it("declare as optional what a stage may not have set, and only the request id as always there", () => {
    type Vars = AppEnv["Variables"];
    expectTypeOf<Vars["requestId"]>().toEqualTypeOf<string>();
    expectTypeOf<Vars["config"]>().toEqualTypeOf<GatewayConfig | undefined>();
    expectTypeOf<Vars["user"]>().toEqualTypeOf<Identity | undefined>();
    expectTypeOf<Vars>().pick<"body" | "origin" | "originCredential" | "pool" | "answeredError">().toEqualTypeOf<
      Partial<Pick<Vars, "body" | "origin" | "originCredential" | "pool" | "answeredError">>
    >();
  });
});
