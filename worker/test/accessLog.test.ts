/**
 * The access-log row on every path a request can take, inside workerd: each test checks the whole
 * row (every column), so a field written by the wrong stage, or overwritten, shows up here.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { userKeyFor } from "../src/lib/crypto";
import {
  awayFromMinuteEdge,
  call,
  chatBody,
  freshUser,
  gateway,
  jsonResponse,
  mockOrigin,
  rowFor,
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
  expect(created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
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

describe("requests the gateway refuses before the origin", () => {
  it.each([
    ["no X-User-ID", {}, 400, "~missing", "missing_user"],
    ["an invalid X-User-ID", { "X-User-ID": "has space" }, 400, "~invalid", "invalid_user"],
  ])("%s", async (_name, headers, status, userId, errorClass) => {
    const origin = mockOrigin(() => jsonResponse({}));
    const { response } = await call("/v1/models", { headers });
    expect(origin).not.toHaveBeenCalled();
    await expectRow(response, { user_id: userId, status, error_class: errorClass }, false);
  });

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

  it("a misconfigured setting", async () => {
    const user = freshUser();
    const { response } = await call("/v1/models", { headers: { "X-User-ID": user } }, { AUTH_MODE: "both" });
    await expectRow(response, { user_id: user, status: 500, error_class: "misconfigured" }, false);
  });

  it("a wrong X-User-Key (logged under the id it claims)", async () => {
    const user = freshUser();
    const { response } = await call(
      "/v1/models",
      { headers: { "X-User-ID": user, "X-User-Key": await userKeyFor("other", user) } },
      { USER_KEY_SECRET: "event-secret" },
    );
    expect(response.status).toBe(401);
    await expectRow(response, { user_id: user, status: 401, error_class: "bad_user_key" }, false);
  });

  it("no key from an anonymous caller while keys are required", async () => {
    const { response } = await call("/v1/models", {}, { USER_KEY_SECRET: "event-secret", ALLOW_ANONYMOUS: "true" });
    await expectRow(response, { user_id: "~anonymous", status: 401, error_class: "bad_user_key" }, false);
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

  it.each(["/nowhere", "/v1", "/v1/"])("an unknown path %s", async (path) => {
    const user = freshUser();
    const { response } = await call(path, { headers: { "X-User-ID": user } });
    expect(response.status).toBe(404);
    await expectRow(response, { user_id: user, endpoint: path, status: 404, error_class: "not_found" }, false);
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

  it("a stream the origin breaks off", async () => {
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
    await expect(response.text()).rejects.toThrow();
    await logged();
    await expectRow(
      response,
      { ...asked, user_id: user, stream: 1, status: 200, tokens_est: null, error_class: "upstream_stream_error" },
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
      { ...asked, user_id: user, stream: 1, status: 200, tokens_est: null, error_class: "client_disconnected" },
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
