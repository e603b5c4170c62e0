/**
 * The gateway end to end inside workerd: real KV, D1 and Durable Objects; the origin is replaced
 * by a fetch handler in the test so each test sees exactly what the Worker forwarded.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { userKeyFor } from "../src/lib/crypto";
import {
  awayFromMinuteEdge,
  call,
  chatBody,
  clearLog,
  freshUser,
  gateway,
  jsonResponse,
  logRows,
  mockOrigin,
  rowFor,
  statusCounts,
  strangerCounts,
  userHeaders,
} from "./helpers";

const okChat = () =>
  jsonResponse({ id: "c1", choices: [{ message: { content: "hello" } }], usage: { total_tokens: 21 } });

beforeEach(async () => {
  await clearLog();
  await awayFromMinuteEdge();
}, 15_000);
afterEach(() => {
  vi.restoreAllMocks();
});

describe("health and routing", () => {
  it("answers /health without touching the origin or the log", async () => {
    const origin = mockOrigin(okChat);
    const { response, json } = await call("/health");
    expect(response.status).toBe(200);
    expect(json()).toEqual({ status: "ok", gateway: "organized-gateway" });
    expect(origin).not.toHaveBeenCalled();
    expect(await logRows()).toHaveLength(0);
  });

  it.each(["/", "/v2/chat", "/v1", "/v1/../admin", "/V1/models", "//v1/models"])("answers %s with a 404, counted as a stranger's", async (path) => {
    const origin = mockOrigin(okChat);
    const { response, json } = await call(path, { headers: userHeaders("alice") });
    expect(response.status).toBe(404);
    expect(json().error).toMatch(/Not found/);
    expect(response.headers.get("X-Request-ID")).toBeTruthy();
    expect(origin).not.toHaveBeenCalled();
    expect(await logRows()).toHaveLength(0); // never a row under the id it claims
    expect(await strangerCounts()).toEqual({ "404 not_found": 1 });
  });
});

describe("proxying", () => {
  it("forwards method, path, query and body, and returns the origin's status, headers and body", async () => {
    const seen: Request[] = [];
    const bodies: string[] = [];
    mockOrigin(async (request) => {
      seen.push(request);
      bodies.push(await request.text());
      return jsonResponse({ created: true, usage: { total_tokens: 5 } }, 201, { "X-Origin-Trace": "t1" });
    });
    const user = freshUser();
    const { response, json } = await call("/v1/chat/completions?api-version=2&x=%20y", {
      method: "POST",
      headers: userHeaders(user),
      body: chatBody(),
    });
    expect(response.status).toBe(201);
    expect(json()).toEqual({ created: true, usage: { total_tokens: 5 } });
    expect(response.headers.get("X-Origin-Trace")).toBe("t1");
    expect(response.headers.get("Content-Type")).toBe("application/json");
    expect(seen[0].url).toBe("http://origin.test/base/v1/chat/completions?api-version=2&x=%20y");
    expect(seen[0].method).toBe("POST");
    expect(JSON.parse(bodies[0])).toEqual(JSON.parse(chatBody()));
    const row = await rowFor(response);
    expect(row).toMatchObject({ user_id: user, method: "POST", endpoint: "/v1/chat/completions", model: "test-model", status: 201, tokens_est: 5, stream: 0, error_class: null });
  });

  it("passes non-JSON answers through untouched", async () => {
    mockOrigin(() => new Response("plain words", { status: 200, headers: { "Content-Type": "text/plain" } }));
    const { response, text } = await call("/v1/models", { headers: { "X-User-ID": freshUser() } });
    expect(text).toBe("plain words");
    expect(response.headers.get("Content-Type")).toBe("text/plain");
  });

  it("shows the origin X-Forwarded-User and never the gateway's own headers", async () => {
    const seen: Request[] = [];
    mockOrigin((request) => {
      seen.push(request);
      return okChat();
    });
    const secret = "workshop-secret";
    const user = freshUser();
    const key = await userKeyFor(secret, user);
    await call(
      "/v1/chat/completions",
      {
        method: "POST",
        headers: userHeaders(user, {
          Authorization: "Bearer sk-attendee",
          "X-User-Key": key,
          "CF-Connecting-IP": "203.0.113.7",
          "X-Forwarded-User": "someone-else",
        }),
        body: chatBody(),
      },
      { USER_KEY_SECRET: secret },
    );
    const headers = seen[0].headers;
    expect(headers.get("X-Forwarded-User")).toBe(user);
    expect(headers.get("Authorization")).toBe("Bearer sk-attendee");
    for (const name of ["X-User-Key", "X-User-ID", "CF-Connecting-IP", "X-Codex-Token"]) {
      expect(headers.get(name), name).toBeNull();
    }
  });
});

describe("per-user limit", () => {
  const burst = (user: string, n: number, vars = {}) =>
    Promise.all(
      Array.from({ length: n }, () =>
        call("/v1/chat/completions", { method: "POST", headers: userHeaders(user), body: chatBody() }, vars).then((r) => r.response),
      ),
    );

  it("admits exactly the limit of 200 simultaneous requests from one user, and logs all 200", async () => {
    mockOrigin(okChat);
    const user = freshUser("burst");
    const responses = await burst(user, 200);
    expect(statusCounts(responses)).toEqual({ 200: 50, 429: 150 });
    const rows = await logRows("user_id = ?1", user);
    expect(rows).toHaveLength(200);
    expect(rows.filter((r) => r.status === 429 && r.error_class === "rate_limited")).toHaveLength(150);
  });

  it("counts each user separately", async () => {
    mockOrigin(okChat);
    const [a, b] = await Promise.all([burst(freshUser("a"), 8, { RATE_LIMIT_PER_MINUTE: "5" }), burst(freshUser("b"), 8, { RATE_LIMIT_PER_MINUTE: "5" })]);
    expect(statusCounts(a)).toEqual({ 200: 5, 429: 3 });
    expect(statusCounts(b)).toEqual({ 200: 5, 429: 3 });
  });

  it("answers a 429 with the effective limit, Retry-After and X-RateLimit-* headers", async () => {
    mockOrigin(okChat);
    const user = freshUser();
    const vars = { RATE_LIMIT_PER_MINUTE: "2" };
    const first = await call("/v1/models", { headers: { "X-User-ID": user } }, vars);
    expect(first.response.headers.get("X-RateLimit-Limit")).toBe("2");
    expect(first.response.headers.get("X-RateLimit-Remaining")).toBe("1");
    await call("/v1/models", { headers: { "X-User-ID": user } }, vars);
    const third = await call("/v1/models", { headers: { "X-User-ID": user } }, vars);
    expect(third.response.status).toBe(429);
    expect(third.text).toBe('{"error":"Rate limit exceeded. 2 requests/minute."}');
    expect(third.response.headers.get("X-RateLimit-Remaining")).toBe("0");
    const reset = Number(third.response.headers.get("X-RateLimit-Reset"));
    const retryAfter = Number(third.response.headers.get("Retry-After"));
    expect(reset % 60).toBe(0);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(Math.abs(reset - Date.now() / 1000 - retryAfter)).toBeLessThanOrEqual(2);
  });

  it("admits again in the next UTC minute", async () => {
    mockOrigin(okChat);
    const user = freshUser();
    const vars = { RATE_LIMIT_PER_MINUTE: "1" };
    expect((await call("/v1/models", { headers: { "X-User-ID": user } }, vars)).response.status).toBe(200);
    expect((await call("/v1/models", { headers: { "X-User-ID": user } }, vars)).response.status).toBe(429);
    // Move the stored window one minute into the past, as if the minute had ended.
    const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(user));
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE rate_window SET window_start = window_start - 60000");
    });
    expect((await call("/v1/models", { headers: { "X-User-ID": user } }, vars)).response.status).toBe(200);
  });

  it("honours a tier:{user} override in KV, and 0 blocks the user", async () => {
    mockOrigin(okChat);
    const vip = freshUser("vip");
    const blocked = freshUser("blocked");
    await env.GATEWAY_KV.put(`tier:${vip}`, "3");
    await env.GATEWAY_KV.put(`tier:${blocked}`, "0");
    expect(statusCounts(await burst(vip, 5, { RATE_LIMIT_PER_MINUTE: "1" }))).toEqual({ 200: 3, 429: 2 });
    const denied = await call("/v1/models", { headers: { "X-User-ID": blocked } });
    expect(denied.response.status).toBe(403);
    expect(denied.json().error).toMatch(/blocked/);
    expect(denied.response.headers.get("X-RateLimit-Limit")).toBe("0");
    expect((await rowFor(denied.response)).error_class).toBe("blocked");
  });

  it("ignores a malformed tier rather than blocking or unblocking", async () => {
    mockOrigin(okChat);
    const user = freshUser();
    await env.GATEWAY_KV.put(`tier:${user}`, "lots");
    const responses = await burst(user, 3, { RATE_LIMIT_PER_MINUTE: "2" });
    expect(statusCounts(responses)).toEqual({ 200: 2, 429: 1 });
  });

  it("counts anonymous callers per client IP when ALLOW_ANONYMOUS is on", async () => {
    mockOrigin(okChat);
    const vars = { ALLOW_ANONYMOUS: "true", RATE_LIMIT_PER_MINUTE: "1" };
    const ip = () => `198.51.100.${Math.floor(Math.random() * 250)}-${crypto.randomUUID()}`;
    const [ipA, ipB] = [ip(), ip()];
    const a1 = await call("/v1/models", { headers: { "CF-Connecting-IP": ipA } }, vars);
    const a2 = await call("/v1/models", { headers: { "CF-Connecting-IP": ipA } }, vars);
    const b1 = await call("/v1/models", { headers: { "CF-Connecting-IP": ipB } }, vars);
    expect([a1.response.status, a2.response.status, b1.response.status]).toEqual([200, 429, 200]);
    expect((await rowFor(a1.response)).user_id).toBe("~anonymous");
  });
});

describe("auth modes", () => {
  it("codex mode sends the user's OAuth token as X-Codex-Token, never the client's Authorization", async () => {
    const seen: Request[] = [];
    mockOrigin((request) => {
      seen.push(request);
      return okChat();
    });
    const user = freshUser();
    await env.GATEWAY_KV.put(`oauth:${user}`, "oauth-token-123");
    const { response } = await call(
      "/v1/chat/completions",
      { method: "POST", headers: userHeaders(user, { Authorization: "Bearer sk-client", "X-Codex-Token": "forged" }), body: chatBody() },
      { AUTH_MODE: "codex" },
    );
    expect(response.status).toBe(200);
    expect(seen[0].headers.get("X-Codex-Token")).toBe("oauth-token-123");
    expect(seen[0].headers.get("Authorization")).toBeNull();
  });

  it("codex mode answers 401 JSON when the user has no token, without calling the origin", async () => {
    const origin = mockOrigin(okChat);
    const { response, json, text } = await call("/v1/models", { headers: { "X-User-ID": freshUser() } }, { AUTH_MODE: "codex" });
    expect(response.status).toBe(401);
    expect(json().error).toMatch(/No OAuth token/);
    expect(text).not.toMatch(/oauth-token/);
    expect(origin).not.toHaveBeenCalled();
    expect(response.headers.get("X-RateLimit-Limit")).toBe("50");
    expect((await rowFor(response)).error_class).toBe("no_oauth_token");
  });
});

describe("user keys (USER_KEY_SECRET)", () => {
  const secret = "event-secret";

  it("accepts the key issued for the user, refuses another user's or a forged key before counting", async () => {
    mockOrigin(okChat);
    const alice = freshUser("alice");
    const bob = freshUser("bob");
    const vars = { USER_KEY_SECRET: secret, RATE_LIMIT_PER_MINUTE: "1" };
    const aliceKey = await userKeyFor(secret, alice);
    const bobKey = await userKeyFor(secret, bob);
    const asAlice = (key?: string) =>
      call("/v1/models", { headers: { "X-User-ID": alice, ...(key === undefined ? {} : { "X-User-Key": key }) } }, vars);

    for (const key of [undefined, bobKey, "forged", aliceKey.slice(0, -2) + "xx"]) {
      const refused = await asAlice(key);
      expect(refused.response.status, String(key)).toBe(401);
      expect(refused.json().error).toMatch(/X-User-Key/);
    }
    // None of the refused requests spent alice's single request this minute.
    expect((await asAlice(aliceKey)).response.status).toBe(200);
    expect((await asAlice(aliceKey)).response.status).toBe(429);
    // Refused keys are strangers' requests: counted, never logged under alice's id.
    const rows = await logRows("user_id = ?1", alice);
    expect(rows.map((r) => r.status)).toEqual([200, 429]);
    expect(await strangerCounts()).toEqual({ "401 bad_user_key": 4 });
  });
});

describe("streaming", () => {
  const encoder = new TextEncoder();
  const event = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;

  /** An origin stream the test feeds by hand, to see when the client receives each part. */
  function manualStream() {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    return { body, send: (text: string) => controller.enqueue(encoder.encode(text)), end: () => controller.close() };
  }

  it("delivers the first event before the origin has finished, and hides the usage chunk it asked for", async () => {
    const origin = manualStream();
    const forwarded: string[] = [];
    mockOrigin(async (request) => {
      forwarded.push(await request.text());
      return new Response(origin.body, { headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" } });
    });
    const user = freshUser();
    const { response, logged } = await gateway("/v1/chat/completions", {
      method: "POST",
      headers: userHeaders(user, { Accept: "text/event-stream" }),
      body: chatBody({ stream: true }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toBe("text/event-stream");
    expect(response.headers.get("Cache-Control")).toBe("no-cache");
    expect(JSON.parse(forwarded[0]).stream_options).toEqual({ include_usage: true });

    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    origin.send(event({ choices: [{ delta: { content: "Hel" } }], usage: null }));
    const first = await reader.read();
    expect(first.value).toContain("Hel"); // arrived while the origin is still open

    origin.send(event({ choices: [{ delta: { content: "lo" } }], usage: null }));
    origin.send(event({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }));
    origin.send("data: [DONE]\n\n");
    origin.end();
    let rest = "";
    for (let part = await reader.read(); !part.done; part = await reader.read()) rest += part.value;
    expect(rest).toContain('"lo"');
    expect(rest).toContain("[DONE]");
    expect(rest).not.toContain('"choices":[]');
    await logged();
    expect(await rowFor(response)).toMatchObject({ stream: 1, tokens_est: 5, status: 200, error_class: null });
  });

  it("passes the usage chunk through when the client asked for it", async () => {
    mockOrigin(async (request) => {
      expect(JSON.parse(await request.text()).stream_options).toEqual({ include_usage: true });
      const body = [
        event({ choices: [{ delta: { content: "x" } }], usage: null }),
        event({ choices: [], usage: { total_tokens: 9 } }),
        "data: [DONE]\n\n",
      ].join("");
      return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
    });
    const { response, text } = await call("/v1/chat/completions", {
      method: "POST",
      headers: userHeaders(freshUser()),
      body: chatBody({ stream: true, stream_options: { include_usage: true } }),
    });
    expect(text).toContain('"choices":[]');
    expect((await rowFor(response)).tokens_est).toBe(9);
  });

  it("logs a stream that the client abandons", async () => {
    const origin = manualStream();
    mockOrigin(() => new Response(origin.body, { headers: { "Content-Type": "text/event-stream" } }));
    const { response, logged } = await gateway("/v1/chat/completions", {
      method: "POST",
      headers: userHeaders(freshUser()),
      body: chatBody({ stream: true }),
    });
    origin.send(event({ choices: [{ delta: { content: "a" } }] }));
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel("client went away");
    await logged();
    expect(await rowFor(response)).toMatchObject({ status: 499, error_class: "client_closed" });
  });
});

describe("upstream faults", () => {
  it("answers 502 JSON and logs it when the origin is unreachable", async () => {
    mockOrigin(() => {
      throw new TypeError("Network connection lost.");
    });
    const { response, json } = await call("/v1/models", { headers: { "X-User-ID": freshUser() } });
    expect(response.status).toBe(502);
    expect(json().error).toMatch(/could not be reached/);
    expect((await rowFor(response)).error_class).toBe("upstream_unreachable");
  });

  it("answers 504 JSON when no headers arrive within UPSTREAM_TIMEOUT_MS", async () => {
    mockOrigin(
      (request) =>
        new Promise<Response>((_resolve, reject) => {
          request.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
        }),
    );
    const started = Date.now();
    const { response, json } = await call("/v1/models", { headers: { "X-User-ID": freshUser() } }, { UPSTREAM_TIMEOUT_MS: "150" });
    expect(response.status).toBe(504);
    expect(json().error).toMatch(/within 150 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await rowFor(response)).error_class).toBe("upstream_timeout");
  });

  it("passes an origin 5xx through and classifies it", async () => {
    mockOrigin(() => jsonResponse({ error: "overloaded" }, 503));
    const { response, json } = await call("/v1/models", { headers: { "X-User-ID": freshUser() } });
    expect(response.status).toBe(503);
    expect(json()).toEqual({ error: "overloaded" });
    expect((await rowFor(response)).error_class).toBe("upstream_error");
  });
});

describe("bad input", () => {
  it.each([
    [{}, 400, /Missing X-User-ID/, "missing_user"],
    [{ "X-User-ID": "x".repeat(65) }, 400, /Invalid X-User-ID/, "invalid_user"],
    [{ "X-User-ID": "robert'); DROP TABLE requests;--" }, 400, /Invalid X-User-ID/, "invalid_user"],
  ])("headers %j → %i, counted as a stranger's", async (headers, status, message, errorClass) => {
    const origin = mockOrigin(okChat);
    const { response, json } = await call("/v1/models", { headers });
    expect(response.status).toBe(status);
    expect(json().error).toMatch(message);
    expect(origin).not.toHaveBeenCalled();
    expect(await logRows()).toHaveLength(0);
    expect(await strangerCounts()).toEqual({ [`${status} ${errorClass}`]: 1 });
  });

  it("refuses a body over MAX_BODY_BYTES with 413, even without Content-Length", async () => {
    const origin = mockOrigin(okChat);
    const chunk = new Uint8Array(64 * 1024).fill(97);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 5 * 1024 * 1024) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const request = new Request("https://gateway.test/v1/chat/completions", {
      method: "POST",
      headers: { "X-User-ID": freshUser(), "Content-Type": "application/json" },
      body,
      // @ts-expect-error: duplex is required for a streamed request body
      duplex: "half",
    });
    const { response, json } = await call(request, {}, { MAX_BODY_BYTES: "1048576" });
    expect(response.status).toBe(413);
    expect(json().error).toMatch(/1048576 bytes/);
    expect(sent).toBeLessThan(2 * 1024 * 1024); // stopped reading soon after the limit
    expect(origin).not.toHaveBeenCalled();
    expect((await rowFor(response)).error_class).toBe("body_too_large");
  });

  it("refuses a declared Content-Length over the limit before reading", async () => {
    mockOrigin(okChat);
    const { response } = await call(
      "/v1/chat/completions",
      { method: "POST", headers: userHeaders(freshUser()), body: "x".repeat(2000) },
      { MAX_BODY_BYTES: "1000" },
    );
    expect(response.status).toBe(413);
  });

  it("refuses invalid JSON with 400", async () => {
    const origin = mockOrigin(okChat);
    const { response, json } = await call("/v1/chat/completions", { method: "POST", headers: userHeaders(freshUser()), body: "{not json" });
    expect(response.status).toBe(400);
    expect(json().error).toMatch(/not valid JSON/);
    expect(origin).not.toHaveBeenCalled();
  });

  it("answers a misconfiguration with 500 naming the setting, and stays healthy", async () => {
    const { response, json } = await call("/v1/models", { headers: { "X-User-ID": freshUser() } }, { RATE_LIMIT_PER_MINUTE: "fifty" });
    expect(response.status).toBe(500);
    expect(json().error).toMatch(/RATE_LIMIT_PER_MINUTE/);
    // Before the identity is checked: counted, not logged under the id it claims.
    expect(await strangerCounts()).toEqual({ "500 misconfigured": 1 });
    expect((await call("/health")).response.status).toBe(200);
  });
});

describe("access log", () => {
  it("writes exactly one row per identified request for every outcome, and counts the rest", async () => {
    mockOrigin(okChat);
    const user = freshUser();
    const outcomes = [
      await call("/v1/models", { headers: { "X-User-ID": user } }, { RATE_LIMIT_PER_MINUTE: "1" }), // 200
      await call("/v1/models", { headers: { "X-User-ID": user } }, { RATE_LIMIT_PER_MINUTE: "1" }), // 429
      await call("/v1/models", {}), // 400
      await call("/nowhere", {}), // 404
      await call("/v1/models", { headers: { "X-User-ID": freshUser() } }, { AUTH_MODE: "codex" }), // 401
    ];
    expect(outcomes.map((o) => o.response.status)).toEqual([200, 429, 400, 404, 401]);
    const identified = [outcomes[0], outcomes[1], outcomes[4]];
    const rows = await logRows();
    expect(rows).toHaveLength(identified.length);
    expect(rows.map((r) => r.request_id).sort()).toEqual(identified.map((o) => o.response.headers.get("X-Request-ID")).sort());
    expect(await strangerCounts()).toEqual({ "400 missing_user": 1, "404 not_found": 1 });
    for (const row of rows) {
      expect(row.created_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
      expect(row.latency_ms).toBeGreaterThanOrEqual(0);
    }
  });

  it("stores a keyed IP hash only when IP_HASH_SALT is set, never the IP", async () => {
    mockOrigin(okChat);
    const headers = { "X-User-ID": freshUser(), "CF-Connecting-IP": "203.0.113.7" };
    const salted = await call("/v1/models", { headers }, { IP_HASH_SALT: "salt" });
    const unsalted = await call("/v1/models", { headers });
    expect((await rowFor(salted.response)).ip_hash).toBe("549fe5bec61ee86f");
    expect((await rowFor(unsalted.response)).ip_hash).toBeNull();
  });

  it("still answers when the log write fails", async () => {
    mockOrigin(okChat);
    const failingDb = { prepare: () => { throw new Error("D1 is down"); } };
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const { response } = await call("/v1/models", { headers: { "X-User-ID": freshUser() } }, { DB: failingDb } as never);
    expect(response.status).toBe(200);
    expect(errors).toHaveBeenCalledWith("access log write failed", expect.any(String), expect.stringContaining("D1 is down"));
  });
});
