/**
 * The event's controls (issue 14) end to end in workerd: each control takes effect (at once in the
 * isolate that changed it, within the cache window elsewhere) and the same request passes with it
 * off; the admin routes' auth, validation and audit rows; tiers; key reissue and revocation.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { controlsReads, controlsStub, CONTROLS_TTL_MS, forgetControls } from "../src/controls/cache";
import { userKeyFor } from "../src/lib/crypto";
import { admin, auditRows, chat, resetControls, VARS } from "./controlsHelpers";
import { ADMIN, sleep } from "./gateHelpers";
import { awayFromMinuteEdge, call, freshUser, jsonResponse, logRows, mockOrigin, rowFor, strangerCounts, type Vars } from "./helpers";

/** An origin that answers every chat with 21 tokens and remembers the bodies it received. */
function tokenOrigin(tokens = 21) {
  const bodies: string[] = [];
  const spy = mockOrigin(async (request) => {
    bodies.push(await request.text());
    return jsonResponse({ choices: [{ message: { content: "hi" } }], usage: { total_tokens: tokens } });
  });
  return { bodies, spy };
}

beforeEach(async () => {
  await resetControls();
  await awayFromMinuteEdge();
}, 15_000);
afterEach(async () => {
  vi.restoreAllMocks();
  await resetControls();
});

describe("admin controls API", () => {
  it("shows every control off before any change", async () => {
    const { response, json } = await admin("GET", "/admin/controls");
    expect(response.status).toBe(200);
    expect(json()).toEqual({ maintenance: { on: false, message: null }, limit_per_minute: null, models: null, max_tokens: null, budget: null, updated_at: null });
  });

  it("changes a subset, answers the full controls, and writes one audit row per changed key", async () => {
    const first = await admin("PATCH", "/admin/controls", { limit_per_minute: 5, models: ["a", "b"] });
    expect(first.response.status).toBe(200);
    const controls = first.json();
    expect(controls).toMatchObject({ limit_per_minute: 5, models: ["a", "b"], max_tokens: null, budget: null, maintenance: { on: false, message: null } });
    expect(controls.updated_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
    // The same value again is no change; a new one is.
    await admin("PATCH", "/admin/controls", { limit_per_minute: 5, budget: { tokens: 100, per: "hour" } });
    expect((await admin("GET", "/admin/controls")).json()).toMatchObject({ limit_per_minute: 5, budget: { tokens: 100, per: "hour" } });
    const rows = await auditRows();
    expect(rows.map((r) => [r.action, r.target, JSON.parse(r.detail!), r.source])).toEqual([
      ["limit_per_minute", null, 5, "admin"],
      ["models", null, ["a", "b"], "admin"],
      ["budget", null, { tokens: 100, per: "hour" }, "admin"],
    ]);
    expect(rows[0].created_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
  });

  it("records where a change came from as a keyed hash of the IP, never the IP, token or salt", async () => {
    const vars = { ...VARS, IP_HASH_SALT: "pepper-salt" };
    const init = { method: "PATCH", headers: { Authorization: `Bearer ${ADMIN}`, "CF-Connecting-IP": "203.0.113.9" }, body: JSON.stringify({ max_tokens: 64 }) };
    expect((await call("/admin/controls", init, vars)).response.status).toBe(200);
    const [row] = await auditRows();
    expect(row.source).toMatch(/^[0-9a-f]{16}$/);
    expect(JSON.stringify(row)).not.toMatch(/203\.0\.113\.9|pepper|admin-test-token/);
  });

  it("is absent without ADMIN_TOKEN and refuses a wrong token, changing nothing", async () => {
    const absent = await admin("PATCH", "/admin/controls", { limit_per_minute: 1 }, { ADMIN_TOKEN: "" });
    expect(absent.response.status).toBe(404);
    const wrong = await call("/admin/controls", { method: "PATCH", headers: { Authorization: "Bearer nope" }, body: '{"limit_per_minute": 1}' }, VARS);
    expect(wrong.response.status).toBe(401);
    expect(wrong.json().error).toMatch(/admin token/);
    for (const path of ["/admin/users/alice/tier", "/admin/users/alice/reissue"]) {
      expect((await call(path, { method: path.endsWith("tier") ? "PUT" : "POST", body: '{"limit": 1}' }, VARS)).response.status).toBe(401);
    }
    expect((await admin("GET", "/admin/controls")).json().limit_per_minute).toBeNull();
    expect(await auditRows()).toHaveLength(0);
  });

  it.each([
    ["not JSON", "{oops", /JSON object/],
    ["an array", [1], /JSON object/],
    ["an unknown control", { limits: 3 }, /"limits" is not a control/],
    ["a negative limit", { limit_per_minute: -1 }, /^limit_per_minute /],
    ["a fractional limit", { limit_per_minute: 2.5 }, /^limit_per_minute /],
    ["an empty model list", { models: [] }, /^models /],
    ["a model that is not a name", { models: ["a", 3] }, /^models /],
    ["max_tokens 0", { max_tokens: 0 }, /^max_tokens /],
    ["a budget without tokens", { budget: { per: "hour" } }, /^budget\.tokens /],
    ["a budget per day", { budget: { tokens: 5, per: "day" } }, /^budget\.per /],
    ["maintenance without on", { maintenance: { message: "x" } }, /^maintenance\.on /],
    ["a maintenance message that is not text", { maintenance: { on: true, message: 5 } }, /^maintenance\.message /],
  ])("answers 400 naming the field for %s, and changes nothing", async (_case, body, message) => {
    const { response, json } = await admin("PATCH", "/admin/controls", body instanceof Array || typeof body !== "object" ? body : { max_tokens: 99, ...body });
    expect(response.status).toBe(400);
    expect(json().error).toMatch(message);
    expect((await admin("GET", "/admin/controls")).json().max_tokens).toBeNull();
    expect(await auditRows()).toHaveLength(0);
  });

  it("shows the controls in GET /admin/status", async () => {
    await admin("PATCH", "/admin/controls", { max_tokens: 256 });
    const { json } = await admin("GET", "/admin/status");
    expect(json().controls).toMatchObject({ max_tokens: 256, maintenance: { on: false, message: null } });
  });
});

describe("maintenance", () => {
  it("answers 503 maintenance with the message and Retry-After, says so in /health, and lets requests through when off", async () => {
    const { spy } = tokenOrigin();
    const user = freshUser();
    expect((await chat(user)).response.status).toBe(200);
    await admin("PATCH", "/admin/controls", { maintenance: { on: true, message: "Back at 10:15." } });
    const paused = await chat(user);
    expect(paused.response.status).toBe(503);
    expect(paused.json()).toEqual({ error: "Back at 10:15." });
    expect(paused.response.headers.get("Retry-After")).toBe("60");
    expect(await rowFor(paused.response)).toMatchObject({ error_class: "maintenance", user_id: user, status: 503 });
    const health = await call("/health");
    expect(health.response.status).toBe(200);
    expect(health.json()).toEqual({ status: "ok", gateway: "organized-gateway", maintenance: true, message: "Back at 10:15." });
    expect(spy).toHaveBeenCalledTimes(1);

    await admin("PATCH", "/admin/controls", { maintenance: { on: false } });
    expect((await chat(user)).response.status).toBe(200);
    expect((await call("/health")).json()).toEqual({ status: "ok", gateway: "organized-gateway" });
  });

  it("gives a default sentence without a message", async () => {
    await admin("PATCH", "/admin/controls", { maintenance: { on: true } });
    const paused = await chat(freshUser());
    expect(paused.response.status).toBe(503);
    expect(paused.json().error).toMatch(/maintenance/);
  });

  it("reaches an isolate that did not make the change within the cache window (under 2 s), through D1's copy", async () => {
    tokenOrigin();
    const user = freshUser();
    expect((await chat(user)).response.status).toBe(200); // this isolate now holds a cached read
    const objectReads = controlsReads().object;
    // Another isolate's admin call: the object changes and publishes, this isolate's cache is not told.
    const changedAt = Date.now();
    expect((await controlsStub(env.EVENT_CONTROLS).change({ maintenance: { on: true, message: "elsewhere" } })).publish).toBe("published");
    let status = 0;
    while (status !== 503 && Date.now() - changedAt < 5_000) {
      status = (await chat(user)).response.status;
      if (status !== 503) await sleep(50);
    }
    expect(status).toBe(503);
    expect(Date.now() - changedAt).toBeLessThan(2_000);
    expect(controlsReads().object).toBe(objectReads); // learnt from D1, not from the object
  });
});

describe("the cost of reading the controls", () => {
  it("reads D1's copy at most once per isolate per second, whatever the request rate, and never the object", async () => {
    tokenOrigin();
    forgetControls();
    const before = controlsReads();
    const started = Date.now();
    await Promise.all(Array.from({ length: 30 }, () => chat(freshUser())));
    for (let i = 0; i < 10; i++) await chat(freshUser());
    const seconds = Math.ceil((Date.now() - started) / CONTROLS_TTL_MS);
    const after = controlsReads();
    expect(after.mirror - before.mirror).toBeGreaterThanOrEqual(1);
    expect(after.mirror - before.mirror).toBeLessThanOrEqual(seconds);
    expect(after.object - before.object).toBe(0);
  });
});

describe("limit_per_minute", () => {
  it("sets the per-user limit for everyone; a per-user tier still overrides it; off, the default applies", async () => {
    tokenOrigin();
    const [ann, ben, tiered] = [freshUser(), freshUser(), freshUser()];
    await admin("PATCH", "/admin/controls", { limit_per_minute: 2 });
    await admin("PUT", `/admin/users/${tiered}/tier`, { limit: 3 });
    const statuses = async (user: string, n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await chat(user)).response.status);
      return out;
    };
    expect(await statuses(ann, 3)).toEqual([200, 200, 429]);
    expect(await statuses(tiered, 4)).toEqual([200, 200, 200, 429]);
    const limited = await chat(ann);
    expect(limited.json().error).toMatch(/2 requests\/minute/);
    await admin("PATCH", "/admin/controls", { limit_per_minute: null });
    expect(await statuses(ann, 1)).toEqual([200]); // back to RATE_LIMIT_PER_MINUTE (50)
    expect(await statuses(ben, 3)).toEqual([200, 200, 200]);
  });

  it("0 blocks everyone with 403 blocked", async () => {
    tokenOrigin();
    await admin("PATCH", "/admin/controls", { limit_per_minute: 0 });
    const blocked = await chat(freshUser());
    expect(blocked.response.status).toBe(403);
    expect((await rowFor(blocked.response)).error_class).toBe("blocked");
  });
});

describe("models allow-list", () => {
  it("refuses another model with 403 model_not_allowed naming the allowed ones; off, it passes", async () => {
    const { spy } = tokenOrigin();
    const user = freshUser();
    await admin("PATCH", "/admin/controls", { models: ["small-model", "tiny-model"] });
    const refused = await chat(user, { model: "huge-model" });
    expect(refused.response.status).toBe(403);
    expect(refused.json().error).toMatch(/"huge-model" is not allowed.*small-model, tiny-model/);
    expect((await rowFor(refused.response)).error_class).toBe("model_not_allowed");
    expect(refused.response.headers.get("X-RateLimit-Remaining")).toBeNull(); // refused before the limiter
    expect((await chat(user, { model: "small-model" })).response.status).toBe(200);
    expect(spy).toHaveBeenCalledTimes(1);
    await admin("PATCH", "/admin/controls", { models: null });
    expect((await chat(user, { model: "huge-model" })).response.status).toBe(200);
  });

  it("checks a JSON body sent with another content type, and a body without a model", async () => {
    tokenOrigin();
    await admin("PATCH", "/admin/controls", { models: ["small-model"] });
    const user = freshUser();
    const disguised = await call("/v1/chat/completions", { method: "POST", headers: { "X-User-ID": user, "Content-Type": "text/plain" }, body: '{"model":"huge-model"}' }, VARS);
    expect(disguised.response.status).toBe(403);
    const modelless = await call("/v1/chat/completions", { method: "POST", headers: { "X-User-ID": user, "Content-Type": "application/json" }, body: '{"messages":[]}' }, VARS);
    expect(modelless.response.status).toBe(403);
    expect((await call("/v1/models", { headers: { "X-User-ID": user } }, VARS)).response.status).toBe(200);
  });
});

describe("max_tokens cap", () => {
  it("lowers max_tokens and max_completion_tokens to the cap and adds it when missing; off, the origin sees the request as sent", async () => {
    const { bodies } = tokenOrigin();
    const user = freshUser();
    const sent = '{"model":"m",  "max_tokens": 5000, "messages":[{"role":"user","content":"max_tokens: 9000"}], "n": 12345678901234567890}';
    const post = (body: string) => call("/v1/chat/completions", { method: "POST", headers: { "X-User-ID": user, "Content-Type": "application/json" }, body }, VARS);
    await admin("PATCH", "/admin/controls", { max_tokens: 100 });
    await post(sent);
    // Only the value changed: spacing, the nested text and the big number are byte for byte.
    expect(bodies[0]).toBe(sent.replace("5000", "100"));
    await post('{"model":"m","max_completion_tokens":1e9}');
    expect(JSON.parse(bodies[1])).toEqual({ model: "m", max_completion_tokens: 100 });
    await post('{"model":"m","messages":[]}');
    expect(JSON.parse(bodies[2])).toEqual({ model: "m", messages: [], max_tokens: 100 });
    await post('{"model":"m","max_tokens":null}');
    expect(JSON.parse(bodies[3]).max_tokens).toBe(100);
    const small = '{"model":"m","max_tokens":40}';
    await post(small);
    expect(bodies[4]).toBe(small);
    await admin("PATCH", "/admin/controls", { max_tokens: null });
    await post(sent);
    expect(bodies[5]).toBe(sent);
  });

  it("keeps the stream-usage edit and caps a streaming request", async () => {
    const { bodies } = tokenOrigin();
    await admin("PATCH", "/admin/controls", { max_tokens: 7 });
    await chat(freshUser(), { stream: true, max_tokens: 800 });
    expect(JSON.parse(bodies[0])).toMatchObject({ stream: true, max_tokens: 7, stream_options: { include_usage: true } });
  });

  it("adds no max_tokens to other endpoints without one", async () => {
    const { bodies } = tokenOrigin();
    await admin("PATCH", "/admin/controls", { max_tokens: 7 });
    const body = '{"model":"m","input":"x"}';
    await call("/v1/embeddings", { method: "POST", headers: { "X-User-ID": freshUser(), "Content-Type": "application/json" }, body }, VARS);
    expect(bodies[0]).toBe(body);
  });
});

describe("token budget", () => {
  it("refuses with 429 token_budget once a user's tokens in the hour are spent, others unaffected; off, it passes", async () => {
    tokenOrigin(21);
    const [spender, other] = [freshUser(), freshUser()];
    await admin("PATCH", "/admin/controls", { budget: { tokens: 40, per: "hour" } });
    expect((await chat(spender)).response.status).toBe(200); // 21
    expect((await chat(spender)).response.status).toBe(200); // 42 >= 40 from now on
    const spent = await chat(spender);
    expect(spent.response.status).toBe(429);
    expect(spent.json().error).toMatch(/40 tokens per user per hour/);
    const retryAfter = Number(spent.response.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect((await rowFor(spent.response)).error_class).toBe("token_budget");
    expect((await chat(other)).response.status).toBe(200);
    await admin("PATCH", "/admin/controls", { budget: null });
    expect((await chat(spender)).response.status).toBe(200);
  });

  it("counts, for an event budget, the tokens the access log holds from before the budget", async () => {
    tokenOrigin(30);
    const [early, fresh] = [freshUser(), freshUser()];
    for (let i = 0; i < 2; i++) expect((await chat(early)).response.status).toBe(200); // 60 tokens, no budget yet
    await admin("PATCH", "/admin/controls", { budget: { tokens: 50, per: "event" } });
    expect((await chat(early)).response.status).toBe(200); // the first check seeds the window from the log
    const spent = await chat(early);
    expect(spent.response.status).toBe(429);
    expect(spent.response.headers.get("Retry-After")).toBe("3600");
    expect((await chat(fresh)).response.status).toBe(200);
    expect((await chat(fresh)).response.status).toBe(200);
  });
});

describe("per-user tiers", () => {
  it("blocks at once with tier 0 (no KV delay) and unblocks with DELETE; validates and audits", async () => {
    tokenOrigin();
    const user = freshUser();
    expect((await chat(user)).response.status).toBe(200);
    const put = await admin("PUT", `/admin/users/${user}/tier`, { limit: 0 });
    expect(put.json()).toEqual({ user, limit: 0 });
    const blocked = await chat(user);
    expect(blocked.response.status).toBe(403);
    expect((await rowFor(blocked.response)).error_class).toBe("blocked");
    const del = await admin("DELETE", `/admin/users/${user}/tier`);
    expect(del.json()).toEqual({ user, limit: null });
    expect((await chat(user)).response.status).toBe(200);
    expect((await admin("PUT", `/admin/users/${user}/tier`, { limit: -2 })).json().error).toMatch(/^limit /);
    expect((await admin("PUT", `/admin/users/${user}/tier`, { limit: "5" })).response.status).toBe(400);
    expect((await admin("PUT", "/admin/users/bad%20id/tier", { limit: 5 })).json().error).toMatch(/^user /);
    expect((await auditRows()).map((r) => [r.action, r.target, r.detail])).toEqual([
      ["tier", user, '{"limit":0}'],
      ["tier", user, '{"limit":null}'],
    ]);
  });

  it("wins over KV tier:{user}, which still applies without an admin tier", async () => {
    tokenOrigin();
    const [kvBlocked, kvOnly] = [freshUser(), freshUser()];
    await env.GATEWAY_KV.put(`tier:${kvBlocked}`, "0");
    await env.GATEWAY_KV.put(`tier:${kvOnly}`, "0");
    await admin("PUT", `/admin/users/${kvBlocked}/tier`, { limit: 5 });
    expect((await chat(kvBlocked)).response.status).toBe(200);
    expect((await chat(kvOnly)).response.status).toBe(403);
  });

  it("holds at once in the user's own object, before this isolate's directory has it", async () => {
    tokenOrigin();
    const user = freshUser();
    expect((await chat(user)).response.status).toBe(200);
    // Another isolate sets the tier: the user's object has it; this isolate's cache does not yet.
    await env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(user)).setTier(0);
    expect((await chat(user)).response.status).toBe(403);
  });
});

describe("key reissue and revocation", () => {
  const SECRET = "event-secret";
  const keyed: Vars = { ...VARS, USER_KEY_SECRET: SECRET };
  const ask = async (user: string, key: string) => (await chat(user, {}, keyed, { "X-User-Key": key })).response.status;

  it("reissue: the old key fails at once, the new generation's key works, nobody else is affected", async () => {
    tokenOrigin();
    const [alice, bob] = [freshUser("alice"), freshUser("bob")];
    const [alice0, bob0] = [await userKeyFor(SECRET, alice), await userKeyFor(SECRET, bob)];
    expect([await ask(alice, alice0), await ask(bob, bob0)]).toEqual([200, 200]);
    const reissued = await admin("POST", `/admin/users/${alice}/reissue`, undefined, keyed);
    expect(reissued.json()).toEqual({ user: alice, generation: 1 });
    const alice1 = await userKeyFor(SECRET, alice, 1);
    expect(alice1).not.toBe(alice0);
    expect(await ask(alice, alice0)).toBe(401);
    expect(await ask(alice, alice1)).toBe(200);
    expect(await ask(bob, bob0)).toBe(200);
    expect((await admin("POST", `/admin/users/${alice}/reissue`, undefined, keyed)).json()).toEqual({ user: alice, generation: 2 });
    expect(await ask(alice, alice1)).toBe(401);
    expect(await ask(alice, await userKeyFor(SECRET, alice, 2))).toBe(200);
  });

  it("revoke: every key of the user fails at once until a reissue; nobody else is affected", async () => {
    tokenOrigin();
    const [alice, bob] = [freshUser("alice"), freshUser("bob")];
    const alice0 = await userKeyFor(SECRET, alice);
    const bob0 = await userKeyFor(SECRET, bob);
    expect((await admin("POST", `/admin/users/${alice}/revoke`, undefined, keyed)).json()).toEqual({ user: alice, revoked: true });
    const strangersBefore = (await strangerCounts())["401 bad_user_key"] ?? 0;
    const refused = await chat(alice, {}, keyed, { "X-User-Key": alice0 });
    expect(refused.response.status).toBe(401);
    // A refused key is a stranger's request: counted, never logged under the id it claims.
    expect(await logRows("request_id = ?1", refused.response.headers.get("X-Request-ID"))).toHaveLength(0);
    expect((await strangerCounts())["401 bad_user_key"]).toBe(strangersBefore + 1);
    expect(await ask(bob, bob0)).toBe(200);
    await admin("POST", `/admin/users/${alice}/reissue`, undefined, keyed);
    expect(await ask(alice, alice0)).toBe(401);
    expect(await ask(alice, await userKeyFor(SECRET, alice, 1))).toBe(200);
    const rows = await auditRows();
    expect(rows.map((r) => [r.action, r.target, r.detail])).toEqual([
      ["revoke", alice, '{"revoked":true}'],
      ["reissue", alice, '{"generation":1}'],
    ]);
    expect(JSON.stringify(rows)).not.toContain(alice0);
  });

  it("the old key fails at once even in an isolate whose directory is a second old", async () => {
    tokenOrigin();
    const alice = freshUser("alice");
    const alice0 = await userKeyFor(SECRET, alice);
    expect(await ask(alice, alice0)).toBe(200); // this isolate caches a directory without alice
    // Another isolate reissues: the user's object moves on; this isolate's cached directory has not.
    await env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(alice)).reissue();
    const strangersBefore = (await strangerCounts())["401 bad_user_key"] ?? 0;
    const refused = await chat(alice, {}, keyed, { "X-User-Key": alice0 });
    expect(refused.response.status).toBe(401);
    expect(await logRows("request_id = ?1", refused.response.headers.get("X-Request-ID"))).toHaveLength(0);
    expect((await strangerCounts())["401 bad_user_key"]).toBe(strangersBefore + 1);
  });
});
