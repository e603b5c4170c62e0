/**
 * The access-log row on every path a request can take, inside workerd: each test checks the whole
 * row (every column), so a field written by the wrong stage, or overwritten, shows up here.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { accessRecordOf, insertAccessRecord, sqliteTime } from "../src/lib/accessLog";
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
  strangerCounts,
  userHeaders,
  type LogRow,
} from "./helpers";

afterEach(() => vi.restoreAllMocks());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sse = (...events: unknown[]) => events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("") + "data: [DONE]\n\n";
const eventStream = (body: BodyInit, status = 200) =>
  new Response(body, { status, headers: { "Content-Type": "text/event-stream" } });
const chatPost = (user: string, extra: Record<string, unknown> = {}) => ({
  method: "POST",
  headers: userHeaders(user),
  body: chatBody(extra),
});

/** The columns every row has, as a GET /v1/models that never reached the origin would log them. */
const BASE = {
  method: "GET",
  endpoint: "/v1/models",
  model: null,
  tokens_est: null,
  stream: 0,
  ip_hash: null,
  origin: null,
  gate_wait_ms: null,
};

/**
 * Checks the row of `response`: its id and times are consistent, and every other column equals
 * `expected` (over {@link BASE}). `reachedOrigin` says whether `ttfb_ms` must be set.
 */
async function expectRow(response: Response, expected: Partial<LogRow>, reachedOrigin: boolean): Promise<LogRow> {
  const row = await rowFor(response);
  const { id, request_id, created_at, latency_ms, ttfb_ms, ...rest } = row;
  expect(id).toBeGreaterThan(0);
  expect(request_id).toBe(response.headers.get("X-Request-ID"));
  expect(created_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
  expect(latency_ms).toBeGreaterThanOrEqual(0);
  if (reachedOrigin) {
    expect(ttfb_ms).toBeGreaterThanOrEqual(0);
    expect(ttfb_ms).toBeLessThanOrEqual(latency_ms);
  } else {
    expect(ttfb_ms).toBeNull();
  }
  // A request that reached the origin went to the pool's only origin, index "0".
  expect(rest).toEqual({ ...BASE, ...(reachedOrigin ? { origin: "0" } : {}), ...expected });
  return row;
}

/**
 * Checks that `response` (a stranger's: no verified identity) left no row at all — so not under
 * the id it claims — and was counted once under its status and class.
 */
async function expectCountedOnly(response: Response, status: number, errorClass: string): Promise<void> {
  expect(response.status).toBe(status);
  expect(await logRows()).toHaveLength(0);
  expect(await strangerCounts()).toEqual({ [`${status} ${errorClass}`]: 1 });
}

describe("strangers' requests: counted, no row", () => {
  beforeEach(() => clearLog());

  it.each([
    ["no X-User-ID", {}, 400, "missing_user"],
    ["an invalid X-User-ID", { "X-User-ID": "has space" }, 400, "invalid_user"],
  ])("%s", async (_name, headers, status, errorClass) => {
    const origin = mockOrigin(() => jsonResponse({}));
    const { response } = await call("/v1/models", { headers });
    expect(origin).not.toHaveBeenCalled();
    await expectCountedOnly(response, status, errorClass);
  });

  it("a misconfigured setting (the identity is never checked)", async () => {
    const { response } = await call("/v1/models", { headers: { "X-User-ID": freshUser() } }, { AUTH_MODE: "both" });
    await expectCountedOnly(response, 500, "misconfigured");
  });

  it("a wrong X-User-Key (never logged under the id it claims)", async () => {
    const user = freshUser();
    const { response } = await call(
      "/v1/models",
      { headers: { "X-User-ID": user, "X-User-Key": await userKeyFor("other", user) } },
      { USER_KEY_SECRET: "event-secret" },
    );
    await expectCountedOnly(response, 401, "bad_user_key");
  });

  it("no key from an anonymous caller while keys are required", async () => {
    const { response } = await call("/v1/models", {}, { USER_KEY_SECRET: "event-secret", ALLOW_ANONYMOUS: "true" });
    await expectCountedOnly(response, 401, "bad_user_key");
  });

  it.each(["/nowhere", "/v1", "/v1/"])("an unknown path %s", async (path) => {
    const { response } = await call(path, { headers: { "X-User-ID": freshUser() } });
    await expectCountedOnly(response, 404, "not_found");
  });
});

describe("requests the gateway refuses before the origin", () => {

  it("a body that is not JSON", async () => {
    mockOrigin(() => jsonResponse({}));
    const user = freshUser();
    const { response } = await call("/v1/chat/completions", { method: "POST", headers: userHeaders(user), body: "{no" });
    await expectRow(
      response,
      { user_id: user, method: "POST", endpoint: "/v1/chat/completions", status: 400, error_class: "invalid_json" },
      false,
    );
  });

  it("codex mode without an OAuth token", async () => {
    const user = freshUser();
    const { response } = await call("/v1/models", { headers: { "X-User-ID": user } }, { AUTH_MODE: "codex" });
    await expectRow(response, { user_id: user, status: 401, error_class: "no_oauth_token" }, false);
  });

  it("over the limit", async () => {
    await awayFromMinuteEdge(); // both requests must fall in one UTC minute
    mockOrigin(() => jsonResponse({}));
    const user = freshUser();
    const vars = { RATE_LIMIT_PER_MINUTE: "1" };
    await call("/v1/models", { headers: { "X-User-ID": user } }, vars);
    const { response } = await call("/v1/chat/completions", chatPost(user), vars);
    expect(response.status).toBe(429);
    // The body was read before the limiter, so the row knows its model.
    await expectRow(
      response,
      { user_id: user, method: "POST", endpoint: "/v1/chat/completions", model: "test-model", status: 429, error_class: "rate_limited" },
      false,
    );
  }, 15_000);

  it("a blocked user", async () => {
    const user = freshUser();
    await env.GATEWAY_KV.put(`tier:${user}`, "0");
    const { response } = await call("/v1/models", { headers: { "X-User-ID": user } });
    await expectRow(response, { user_id: user, status: 403, error_class: "blocked" }, false);
  });

  it("a body over MAX_BODY_BYTES", async () => {
    const user = freshUser();
    const { response } = await call(
      "/v1/chat/completions",
      { method: "POST", headers: userHeaders(user), body: chatBody({ pad: "x".repeat(2000) }) },
      { MAX_BODY_BYTES: "1000" },
    );
    await expectRow(
      response,
      { user_id: user, method: "POST", endpoint: "/v1/chat/completions", status: 413, error_class: "body_too_large" },
      false,
    );
  });
});

describe("origin faults", () => {
  it("an unreachable origin", async () => {
    mockOrigin(() => {
      throw new TypeError("Network connection lost.");
    });
    const user = freshUser();
    const { response } = await call("/v1/models", { headers: { "X-User-ID": user } });
    await expectRow(response, { user_id: user, status: 502, error_class: "upstream_unreachable", origin: "0" }, false);
  });

  it("an origin that sends no headers in time", async () => {
    mockOrigin(
      (request) =>
        new Promise<Response>((_resolve, reject) => {
          request.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
        }),
    );
    const user = freshUser();
    const { response } = await call("/v1/models", { headers: { "X-User-ID": user } }, { UPSTREAM_TIMEOUT_MS: "100" });
    const row = await expectRow(response, { user_id: user, status: 504, error_class: "upstream_timeout", origin: "0" }, false);
    expect(row.latency_ms).toBeGreaterThanOrEqual(100);
  });
});

describe("answers the origin gave", () => {
  const post = "/v1/chat/completions";
  const asked = { method: "POST", endpoint: post, model: "test-model" };

  it.each([
    ["a JSON 200", () => jsonResponse({ usage: { total_tokens: 21 } }), false, 200, 21, null],
    ["a JSON 4xx", () => jsonResponse({ error: "bad model" }, 404), false, 404, null, "upstream_client_error"],
    ["a JSON 5xx", () => jsonResponse({ error: "overloaded" }, 503), false, 503, null, "upstream_error"],
    ["a streamed 200", () => eventStream(sse({ choices: [], usage: { total_tokens: 8 } })), true, 200, 8, null],
    ["a streamed 4xx", () => eventStream(sse({ error: "bad model" }), 404), true, 404, null, "upstream_client_error"],
    ["a streamed 5xx", () => eventStream(sse({ error: "overloaded" }), 503), true, 503, null, "upstream_error"],
  ])("%s", async (_name, answer, stream, status, tokens, errorClass) => {
    mockOrigin(answer);
    const user = freshUser();
    const { response } = await call(post, chatPost(user, { stream }));
    expect(response.status).toBe(status);
    await expectRow(
      response,
      { ...asked, user_id: user, stream: stream ? 1 : 0, status, tokens_est: tokens, error_class: errorClass },
      true,
    );
  });

  it("a non-JSON answer passed through", async () => {
    mockOrigin(() => new Response("plain", { headers: { "Content-Type": "text/plain" } }));
    const user = freshUser();
    const { response } = await call("/v1/models", { headers: { "X-User-ID": user } });
    await expectRow(response, { user_id: user, status: 200, error_class: null }, true);
  });

  it("a stream the origin breaks off (an error event ends it; logged 502)", async () => {
    mockOrigin(() => {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(sse({ choices: [{ delta: { content: "a" } }] }).split("data: [DONE]")[0]));
        },
        pull(controller) {
          controller.error(new Error("origin reset the connection"));
        },
      });
      return eventStream(body);
    });
    vi.spyOn(console, "error").mockImplementation(() => {});
    const user = freshUser();
    const { response, logged } = await gateway(post, chatPost(user, { stream: true }));
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/data: \{"error":\{.*"code":"upstream_stream_error"\}\}\n\n$/);
    await logged();
    await expectRow(
      response,
      { ...asked, user_id: user, stream: 1, status: 502, tokens_est: null, error_class: "upstream_stream_error" },
      true,
    );
  });

  it("a stream the client abandons", async () => {
    mockOrigin(() => eventStream(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode(sse({}))) })));
    const user = freshUser();
    const { response, logged } = await gateway(post, chatPost(user, { stream: true }));
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel("gone");
    await logged();
    await expectRow(
      response,
      { ...asked, user_id: user, stream: 1, status: 499, tokens_est: null, error_class: "client_closed" },
      true,
    );
  });
});

describe("timings", () => {
  it("counts ttfb_ms and latency_ms from the request's start, not from the call to the origin", async () => {
    const bodyDelayMs = 300;
    const originDelayMs = 100;
    const streamMs = 100;
    mockOrigin(async () => {
      await sleep(originDelayMs);
      return eventStream(
        new ReadableStream({
          async start(controller) {
            await sleep(streamMs);
            controller.enqueue(new TextEncoder().encode(sse({ choices: [], usage: { total_tokens: 3 } })));
            controller.close();
          },
        }),
      );
    });
    // A client that takes `bodyDelayMs` to send its body: time the gateway spends before the origin.
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent) return controller.close();
        await sleep(bodyDelayMs);
        controller.enqueue(new TextEncoder().encode(chatBody({ stream: true })));
        sent = true;
      },
    });
    const request = new Request("https://gateway.test/v1/chat/completions", {
      method: "POST",
      headers: userHeaders(freshUser()),
      body,
      // @ts-expect-error: duplex is required for a streamed request body
      duplex: "half",
    });
    const { response } = await call(request);
    expect(response.status).toBe(200);
    const row = await rowFor(response);
    expect(row.ttfb_ms).toBeGreaterThanOrEqual(bodyDelayMs + originDelayMs);
    expect(row.latency_ms).toBeGreaterThanOrEqual(row.ttfb_ms! + streamMs);
  });
});

describe("created_at", () => {
  /** A row written by the one INSERT, as if its request had arrived `minutesAgo` minutes ago. */
  async function rowAged(user: string, minutesAgo: number): Promise<void> {
    const startedAt = Date.now() - minutesAgo * 60_000;
    await insertAccessRecord(
      env.DB,
      accessRecordOf({
        requestId: `${user}-${minutesAgo}`,
        method: "GET",
        path: "/v1/models",
        startedAt,
        finishedAt: startedAt + 5,
        status: 200,
        userId: user,
        body: null,
        answeredErrorClass: null,
        originHeadersAt: null,
        tokens: null,
        relayFailure: null,
        ipHash: null,
        originIndex: null,
        gateWaitMs: null,
      }),
    );
  }

  it("is UTC text SQLite's datetime() compares correctly: the manual's last-5-minutes query selects exactly those", async () => {
    expect(sqliteTime(Date.UTC(2026, 10, 28, 9, 10, 49, 123))).toBe("2026-11-28 09:10:49.123");
    const user = freshUser();
    for (const age of [0.5, 4, 6, 30, 24 * 60 + 1]) await rowAged(user, age);
    const recent = await env.DB.prepare(
      `SELECT request_id FROM requests WHERE user_id = ?1 AND created_at > datetime('now', '-5 minutes') ORDER BY id`,
    )
      .bind(user)
      .all<{ request_id: string }>();
    expect(recent.results.map((r) => r.request_id)).toEqual([`${user}-0.5`, `${user}-4`]);
    const today = await env.DB.prepare(
      `SELECT COUNT(*) AS n FROM requests WHERE user_id = ?1 AND created_at > datetime('now', '-1 day')`,
    )
      .bind(user)
      .first<{ n: number }>();
    expect(today?.n).toBe(4);
  });
});
