/**
 * Issue 12's promises for the Worker, end to end inside workerd: every fault and hostile input is
 * answered, each answered request leaves exactly one row (or, from a stranger, one count), and the
 * origin never sees what it must not. Each test was also run once against the code before the fix
 * and failed there (see the commit that added this file).
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { userKeyFor } from "../src/lib/crypto";
import {
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
} from "./helpers";

const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const event = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;
const post = (user: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: userHeaders(user, headers),
  body: chatBody(extra),
});

/** An origin body the test feeds by hand; `cancelled` resolves when the gateway cancels it. */
function manualBody() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let onCancel!: (reason: unknown) => void;
  const cancelled = new Promise<unknown>((resolve) => (onCancel = resolve));
  const body = new ReadableStream<Uint8Array>({
    start: (c) => void (controller = c),
    cancel: (reason) => onCancel(reason ?? "cancelled"),
  });
  return {
    body,
    cancelled,
    send: (text: string) => controller.enqueue(encoder.encode(text)),
    fail: (error: Error) => controller.error(error),
  };
}

/** The SSE `data:` payloads of a stream's text, parsed when they are JSON. */
function dataEvents(text: string): unknown[] {
  return text
    .split(/\n\n/)
    .filter((e) => e.startsWith("data:"))
    .map((e) => e.slice(5).trim())
    .map((d) => (d === "[DONE]" ? d : JSON.parse(d)));
}

beforeEach(() => clearLog());
afterEach(() => vi.restoreAllMocks());

describe("idle timeout after the origin's headers (UPSTREAM_IDLE_TIMEOUT_MS)", () => {
  it("answers 504 JSON when a JSON body stalls, and logs it once when it ends", async () => {
    const origin = manualBody();
    mockOrigin(() => new Response(origin.body, { headers: { "Content-Type": "application/json" } }));
    origin.send('{"id": "c1", "choices": [');
    const user = freshUser();
    const started = Date.now();
    const { response, json } = await call("/v1/chat/completions", post(user), { UPSTREAM_IDLE_TIMEOUT_MS: "150" });
    expect(response.status).toBe(504);
    expect(json().error).toMatch(/150 ms/);
    expect(Date.now() - started).toBeLessThan(3000);
    await origin.cancelled; // the origin's connection is given up, not left open
    expect(await rowFor(response)).toMatchObject({ user_id: user, status: 504, error_class: "upstream_idle_timeout" });
  });

  it("ends a stalled stream with an OpenAI-style error event, then the end, and logs it once", async () => {
    const origin = manualBody();
    mockOrigin(() => new Response(origin.body, { headers: { "Content-Type": "text/event-stream" } }));
    origin.send(event({ choices: [{ delta: { content: "Hel" } }] }));
    const user = freshUser();
    const { response, logged } = await gateway("/v1/chat/completions", post(user, { stream: true }), {
      UPSTREAM_IDLE_TIMEOUT_MS: "150",
    });
    expect(response.status).toBe(200);
    const text = await response.text(); // resolves: the stream ends
    const events = dataEvents(text);
    expect(events[0]).toMatchObject({ choices: [{ delta: { content: "Hel" } }] });
    expect(events.at(-1)).toMatchObject({ error: { code: "upstream_idle_timeout", message: expect.stringMatching(/150 ms/) } });
    await origin.cancelled;
    await logged();
    expect(await logRows("request_id = ?1", response.headers.get("X-Request-ID"))).toHaveLength(1);
    expect(await rowFor(response)).toMatchObject({ user_id: user, stream: 1, status: 504, error_class: "upstream_idle_timeout" });
  });

  it("breaks off a stalled pass-through body (neither JSON nor a stream) and logs it once", async () => {
    const origin = manualBody();
    mockOrigin(() => new Response(origin.body, { headers: { "Content-Type": "text/plain" } }));
    origin.send("partial ");
    const user = freshUser();
    const { response, logged } = await gateway("/v1/files/1/content", { headers: { "X-User-ID": user } }, {
      UPSTREAM_IDLE_TIMEOUT_MS: "150",
    });
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
    await origin.cancelled;
    await logged();
    expect(await rowFor(response)).toMatchObject({ user_id: user, status: 504, error_class: "upstream_idle_timeout" });
  });

  it("lets a slow but steady stream run past the idle timeout", async () => {
    mockOrigin(
      () =>
        new Response(
          new ReadableStream<Uint8Array>({
            async start(controller) {
              for (let i = 0; i < 5; i++) {
                await sleep(60);
                controller.enqueue(encoder.encode(event({ choices: [{ delta: { content: `${i}` } }] })));
              }
              controller.enqueue(encoder.encode("data: [DONE]\n\n"));
              controller.close();
            },
          }),
          { headers: { "Content-Type": "text/event-stream" } },
        ),
    );
    const { response, text } = await call("/v1/chat/completions", post(freshUser(), { stream: true }), {
      UPSTREAM_IDLE_TIMEOUT_MS: "150",
    });
    expect(dataEvents(text)).toHaveLength(6);
    expect(await rowFor(response)).toMatchObject({ status: 200, error_class: null });
  });
});

describe("strangers: never logged under a claimed id, counted without a row each", () => {
  const secret = "event-secret";

  it("a wrong X-User-Key leaves no row under the id it claims, and is counted", async () => {
    mockOrigin(() => jsonResponse({}));
    const victim = freshUser("victim");
    const { response } = await call(
      "/v1/chat/completions",
      post(victim, {}, { "X-User-Key": await userKeyFor("not-the-secret", victim) }),
      { USER_KEY_SECRET: secret },
    );
    expect(response.status).toBe(401);
    expect(await logRows("user_id = ?1", victim)).toHaveLength(0);
    expect(await logRows()).toHaveLength(0);
    expect(await strangerCounts()).toEqual({ "401 bad_user_key": 1 });
  });

  it("an unknown path leaves no row under the id it claims, and is counted", async () => {
    const victim = freshUser("victim");
    const { response } = await call("/wp-admin/../etc/passwd", { headers: { "X-User-ID": victim } });
    expect(response.status).toBe(404);
    expect(response.headers.get("X-Request-ID")).toBeTruthy();
    expect(await logRows()).toHaveLength(0);
    expect(await strangerCounts()).toEqual({ "404 not_found": 1 });
  });

  it("a scanner's 300 requests write no request rows and one count row per class", async () => {
    mockOrigin(() => jsonResponse({}));
    const statements: string[] = [];
    const countingDb = new Proxy(env.DB, {
      get(target, name) {
        if (name === "batch") {
          return (list: D1PreparedStatement[]) => {
            statements.push(...list.map(() => "batch"));
            return target.batch(list);
          };
        }
        if (name === "prepare") {
          return (sql: string) => {
            statements.push(sql.trim().split(/\s+/)[0]);
            return target.prepare(sql);
          };
        }
        const value = Reflect.get(target, name);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const vars = { USER_KEY_SECRET: secret, STRANGER_FLUSH_MS: "1000", DB: countingDb } as never;
    const kinds: Array<[string, RequestInit]> = [
      ["/v1/models", {}],
      ["/v1/models", { headers: { "X-User-ID": "bad id" } }],
      ["/v1/models", { headers: { "X-User-ID": "alice", "X-User-Key": "forged" } }],
      ["/wp-login.php", { headers: { "X-User-ID": "alice" } }],
    ];
    const sent = await Promise.all(
      Array.from({ length: 300 }, (_, i) => gateway(kinds[i % 4][0], kinds[i % 4][1], vars)),
    );
    await Promise.all(sent.map(async ({ response, logged }) => (await response.text(), await logged())));
    expect(await logRows()).toHaveLength(0);
    expect(await strangerCounts()).toEqual({
      "400 missing_user": 75,
      "400 invalid_user": 75,
      "401 bad_user_key": 75,
      "404 not_found": 75,
    });
    // One flush for the whole burst: at most one upsert per (minute, class, status), no INSERT per request.
    expect(statements.filter((s) => s.toUpperCase() === "INSERT").length).toBeLessThanOrEqual(8);
  });

  it("still logs a verified attendee's refused request (over the limit) under their id", async () => {
    mockOrigin(() => jsonResponse({}));
    const user = freshUser();
    const key = await userKeyFor(secret, user);
    const vars = { USER_KEY_SECRET: secret, RATE_LIMIT_PER_MINUTE: "0" };
    const { response } = await call("/v1/models", { headers: { "X-User-ID": user, "X-User-Key": key } }, vars);
    expect(response.status).toBe(403);
    expect(await rowFor(response)).toMatchObject({ user_id: user, error_class: "blocked" });
    expect(await strangerCounts()).toEqual({});
  });
});

describe("headers", () => {
  const forbiddenIn = [
    "X-Forwarded-For",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "X-Forwarded-Port",
    "X-Forwarded-Prefix",
    "Forwarded",
    "X-Original-URL",
    "X-Rewrite-URL",
    "X-Override-URL",
    "X-HTTP-Method-Override",
    "X-HTTP-Method",
    "X-Method-Override",
    "X-Real-IP",
    "X-Client-IP",
    "Client-IP",
    "True-Client-IP",
    "X-Cluster-Client-IP",
    "Fastly-Client-IP",
    "X-Originating-IP",
    "CF-Connecting-IP",
    "CF-IPCountry",
    "CF-Worker",
    "X-Hop-Secret",
  ];

  it("never forwards client forwarding, URL-override, client-IP or Connection-named headers", async () => {
    const seen: Request[] = [];
    mockOrigin((request) => (seen.push(request), jsonResponse({})));
    const user = freshUser();
    const headers: Record<string, string> = Object.fromEntries(forbiddenIn.map((name) => [name, "spoofed"]));
    const { response } = await call("/v1/models", {
      headers: { ...headers, "X-User-ID": user, Connection: "keep-alive, X-Hop-Secret", "X-Custom": "kept", Authorization: "Bearer k" },
    });
    expect(response.status).toBe(200);
    const forwarded = seen[0].headers;
    for (const name of forbiddenIn) expect(forwarded.get(name), name).toBeNull();
    expect(forwarded.get("X-Custom")).toBe("kept");
    expect(forwarded.get("Authorization")).toBe("Bearer k");
    expect(forwarded.get("X-Forwarded-User")).toBe(user);
  });

  it("filters the origin's cookies, banners and Connection-named headers", async () => {
    mockOrigin(() =>
      jsonResponse({ ok: true }, 200, {
        "Set-Cookie": "session=abc; Path=/",
        Server: "uvicorn",
        "X-Powered-By": "Express",
        Via: "1.1 mac-mini.tail1234.ts.net",
        "X-AspNet-Version": "4.0",
        Connection: "X-Internal-Node",
        "X-Internal-Node": "mac-mini-2",
        "X-Origin-Trace": "t1",
      }),
    );
    const { response } = await call("/v1/models", { headers: { "X-User-ID": freshUser() } });
    for (const name of ["Set-Cookie", "Server", "X-Powered-By", "Via", "X-AspNet-Version", "X-Internal-Node"]) {
      expect(response.headers.get(name), name).toBeNull();
    }
    expect(response.headers.get("X-Origin-Trace")).toBe("t1");
  });

  it.each([
    ["an absolute URL on the origin, under its base path", "http://origin.test/base/v1/models/?a=1", 308, "/v1/models/?a=1"],
    ["a path under the base", "/base/v1/files/1", 307, "/v1/files/1"],
    ["a relative path", "models/", 301, "/v1/models/"],
  ])("maps an origin redirect to %s onto the gateway's own path", async (_name, location, status, expected) => {
    mockOrigin(() => new Response(null, { status, headers: { Location: location } }));
    const { response } = await call("/v1/models", { headers: { "X-User-ID": freshUser() } });
    expect(response.status).toBe(status);
    expect(response.headers.get("Location")).toBe(expected);
  });

  it.each([
    ["another host", "http://10.0.0.7:8080/login"],
    ["the origin's host outside its base path", "/admin/"],
    ["the origin's host on another port", "http://origin.test:9000/base/v1/models"],
  ])("answers 502 for an origin redirect to %s, without its Location", async (_name, location) => {
    mockOrigin(() => new Response(null, { status: 302, headers: { Location: location } }));
    const user = freshUser();
    const { response, json } = await call("/v1/models", { headers: { "X-User-ID": user } });
    expect(response.status).toBe(502);
    expect(response.headers.get("Location")).toBeNull();
    expect(JSON.stringify(json())).not.toContain("10.0.0.7");
    expect(await rowFor(response)).toMatchObject({ user_id: user, status: 502, error_class: "upstream_redirect" });
  });
});

describe("a client that leaves", () => {
  it("before the origin's headers: cancels the origin's fetch and is logged 499 client_closed", async () => {
    let originAborted!: () => void;
    const aborted = new Promise<void>((resolve) => (originAborted = resolve));
    mockOrigin(
      (request) =>
        new Promise<Response>((_resolve, reject) => {
          request.signal.addEventListener("abort", () => {
            originAborted();
            reject(new DOMException("aborted", "AbortError"));
          });
        }),
    );
    const client = new AbortController();
    const user = freshUser();
    const request = new Request("https://gateway.test/v1/chat/completions", { ...post(user), signal: client.signal });
    const pending = gateway(request, {}, { UPSTREAM_TIMEOUT_MS: "2000" });
    await sleep(100);
    client.abort();
    const { response, logged } = await pending;
    await aborted;
    await response.text();
    await logged();
    expect(await rowFor(response)).toMatchObject({ user_id: user, status: 499, error_class: "client_closed" });
  });

  it("during a stream: cancels the origin's body and is logged 499 client_closed", async () => {
    const origin = manualBody();
    mockOrigin(() => new Response(origin.body, { headers: { "Content-Type": "text/event-stream" } }));
    origin.send(event({ choices: [{ delta: { content: "a" } }] }));
    const user = freshUser();
    const { response, logged } = await gateway("/v1/chat/completions", post(user, { stream: true }));
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel("gone");
    await origin.cancelled;
    await logged();
    expect(await rowFor(response)).toMatchObject({ user_id: user, status: 499, error_class: "client_closed", stream: 1 });
  });
});

describe("origin and storage faults", () => {
  it("an origin dropping the connection mid-JSON body is a 502, not a 500", async () => {
    const origin = manualBody();
    mockOrigin(() => new Response(origin.body, { headers: { "Content-Type": "application/json" } }));
    origin.send('{"id": "c1", "choi');
    setTimeout(() => origin.fail(new Error("Network connection lost.")), 20);
    vi.spyOn(console, "error").mockImplementation(() => {});
    const user = freshUser();
    const { response, json } = await call("/v1/chat/completions", post(user));
    expect(response.status).toBe(502);
    expect(json().error).toMatch(/origin/i);
    expect(await rowFor(response)).toMatchObject({ user_id: user, status: 502, error_class: "upstream_body_error" });
  });

  it("an origin dropping a stream ends it with an error event and logs 502", async () => {
    const origin = manualBody();
    mockOrigin(() => new Response(origin.body, { headers: { "Content-Type": "text/event-stream" } }));
    origin.send(event({ choices: [{ delta: { content: "a" } }] }));
    setTimeout(() => origin.fail(new Error("Network connection lost.")), 20);
    vi.spyOn(console, "error").mockImplementation(() => {});
    const user = freshUser();
    const { response, text } = await call("/v1/chat/completions", post(user, { stream: true }));
    expect(dataEvents(text).at(-1)).toMatchObject({ error: { code: "upstream_stream_error" } });
    expect(await rowFor(response)).toMatchObject({ status: 502, error_class: "upstream_stream_error" });
  });

  it("a request body that breaks off is a 400 body_read_error, not a 500", async () => {
    const origin = mockOrigin(() => jsonResponse({}));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode('{"model":"m",'));
      },
      pull(controller) {
        controller.error(new Error("client connection reset"));
      },
    });
    const user = freshUser();
    const request = new Request("https://gateway.test/v1/chat/completions", {
      method: "POST",
      headers: userHeaders(user),
      body,
      // @ts-expect-error: duplex is required for a streamed request body
      duplex: "half",
    });
    const { response, json } = await call(request);
    expect(response.status).toBe(400);
    expect(json().error).toMatch(/could not be read/);
    expect(origin).not.toHaveBeenCalled();
    expect(await rowFor(response)).toMatchObject({ user_id: user, status: 400, error_class: "body_read_error" });
  });

  const failingKv = (failOn: (key: string) => boolean) =>
    ({
      get: async (key: string) => {
        if (failOn(key)) throw new Error("KV GET failed: 503");
        return null;
      },
    }) as unknown as KVNamespace;

  it.each([
    ["the tier read", "openai", (key: string) => key.startsWith("tier:")],
    ["the OAuth token read", "codex", (key: string) => key.startsWith("oauth:")],
  ])("a KV failure on %s is a 503 kv_unavailable with Retry-After", async (_name, mode, failOn) => {
    const origin = mockOrigin(() => jsonResponse({}));
    vi.spyOn(console, "error").mockImplementation(() => {});
    const user = freshUser();
    const { response, json } = await call("/v1/models", { headers: { "X-User-ID": user } }, {
      AUTH_MODE: mode,
      GATEWAY_KV: failingKv(failOn),
    } as never);
    expect(response.status).toBe(503);
    expect(Number(response.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(json().error).toMatch(/try again/i);
    expect(origin).not.toHaveBeenCalled();
    expect(await rowFor(response)).toMatchObject({ user_id: user, status: 503, error_class: "kv_unavailable" });
  });
});

describe("stream usage injection", () => {
  const forwardedBody = async (raw: string) => {
    const bodies: string[] = [];
    mockOrigin(async (request) => {
      bodies.push(await request.text());
      return new Response("data: [DONE]\n\n", { headers: { "Content-Type": "text/event-stream" } });
    });
    await call("/v1/chat/completions", { method: "POST", headers: userHeaders(freshUser()), body: raw });
    return bodies[0];
  };

  it("inserts the member without re-serialising: large integers, key order and spacing reach the origin", async () => {
    const raw = '{ "stream" : true,\n  "seed": 12345678901234567890, "z": 1.0, "a": [1e400],\n  "model": "m", "messages": [] }';
    const forwarded = await forwardedBody(raw);
    expect(forwarded).not.toBe(raw);
    expect(forwarded.replace(/,?\s*"stream_options":\{"include_usage":true\}/, "")).toBe(raw);
  });

  it("adds include_usage inside the client's own stream_options, leaving the rest byte-identical", async () => {
    const raw = '{"model":"m","stream":true,"stream_options":{"x":12345678901234567890},"messages":[]}';
    const forwarded = await forwardedBody(raw);
    expect(forwarded.replace(/"include_usage":true,?/, "").replace(/,\}/, "}")).toBe(raw);
    expect(JSON.parse(forwarded).stream_options.include_usage).toBe(true);
  });

  it("hides only the usage-only chunk it asked for, not other events with empty choices", async () => {
    const filterResults = { choices: [], prompt_filter_results: [{ prompt_index: 0 }] };
    mockOrigin(
      () =>
        new Response(
          [
            event(filterResults),
            event({ choices: [{ delta: { content: "x" } }], usage: null }),
            event({ choices: [], usage: null }),
            event({ choices: [], usage: { total_tokens: 7 } }),
            "data: [DONE]\n\n",
          ].join(""),
          { headers: { "Content-Type": "text/event-stream" } },
        ),
    );
    const { response, text } = await call("/v1/chat/completions", post(freshUser(), { stream: true }));
    const events = dataEvents(text);
    expect(events).toContainEqual(filterResults);
    expect(events).toContainEqual({ choices: [], usage: null });
    expect(events).not.toContainEqual({ choices: [], usage: { total_tokens: 7 } });
    expect((await rowFor(response)).tokens_est).toBe(7);
  });

  it("forwards a 4 MiB streaming body byte for byte, apart from the inserted member", async () => {
    const content = "y".repeat(4 * 1024 * 1024 - 200);
    const raw = `{"model":"m","stream":true,"messages":[{"role":"user","content":"${content}"}],"n":12345678901234567890}`;
    const forwarded = await forwardedBody(raw);
    expect(forwarded.length).toBe(raw.length + ',"stream_options":{"include_usage":true}'.length);
    expect(forwarded.replace(',"stream_options":{"include_usage":true}', "")).toBe(raw);
  });
});
