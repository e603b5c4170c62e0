/**
 * The admin API: absent without ADMIN_TOKEN (a 404 like any unknown path), refused with a wrong
 * or missing bearer token, and `GET /admin/status` showing the pool per origin. Admin calls are
 * not written to the access log.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { call, freshUser, logRows } from "./helpers";
import { ADMIN, ask, controlledOrigin, gateStatus, gateVars, uniqueOrigin, until } from "./gateHelpers";

beforeEach(async () => {
  await env.DB.prepare("DELETE FROM requests WHERE endpoint LIKE '/admin%'").run();
});
afterEach(() => vi.restoreAllMocks());

describe("admin API access", () => {
  it("does not exist without ADMIN_TOKEN: the same 404 as any unknown path", async () => {
    const admin = await call("/admin/status", { headers: { Authorization: `Bearer ${ADMIN}` } }, { ADMIN_TOKEN: "" });
    const unknown = await call("/nowhere", {}, { ADMIN_TOKEN: "" });
    expect(admin.response.status).toBe(404);
    expect(admin.json()).toEqual(unknown.json());
  });

  it.each([
    ["no Authorization header", {}],
    ["a wrong token", { Authorization: "Bearer not-the-token" }],
    ["the token as a prefix", { Authorization: `Bearer ${ADMIN}x` }],
    ["another scheme", { Authorization: `Basic ${ADMIN}` }],
  ])("answers 401 JSON to %s", async (_case, headers) => {
    const { response, json } = await call("/admin/status", { headers }, gateVars("2"));
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
    expect(json().error).toMatch(/admin token/);
  });

  it("answers the right token, and never writes admin calls to the access log", async () => {
    const vars = gateVars("2");
    expect((await call("/admin/status", { headers: { Authorization: `Bearer ${ADMIN}` } }, vars)).response.status).toBe(200);
    expect((await call("/admin/status", { headers: { Authorization: "Bearer wrong" } }, vars)).response.status).toBe(401);
    expect((await call("/admin/nothing", { headers: { Authorization: `Bearer ${ADMIN}` } }, vars)).response.status).toBe(404);
    expect(await logRows("endpoint LIKE '/admin%'")).toHaveLength(0);
  });
});

describe("GET /admin/status", () => {
  it("shows per origin: in flight, waiting, healthy, served in the last minute", async () => {
    const origin = controlledOrigin();
    const vars = gateVars("2", { ORIGIN_QUEUE_TIMEOUT_MS: "5000" });
    const pending = [0, 1, 2].map(() => ask(freshUser(), vars));
    await until(() => origin.state.arrivals.length === 2);
    await until(async () => (await gateStatus(vars)).gate.waiting === 1);
    const busy = await gateStatus(vars);
    expect(busy.gate).toMatchObject({ enabled: true, scope: "deployment", waiting: 1, queue_capacity: 40, queue_timeout_ms: 5000 });
    expect(busy.origins).toEqual([
      { origin: "0", host: expect.stringMatching(/^o-.*\.test$/), max_concurrency: 2, in_flight: 2, waiting: 1, healthy: true, state: "up", served_last_minute: 0 },
    ]);
    origin.openUp();
    await Promise.all(pending);
    await until(async () => (await gateStatus(vars)).origins[0].served_last_minute === 3);
    expect((await gateStatus(vars)).origins[0]).toMatchObject({ in_flight: 0, waiting: 0 });
  });

  it("without a gate, shows this isolate's own view", async () => {
    controlledOrigin().openUp();
    const vars = gateVars(undefined, {}, [uniqueOrigin("a"), uniqueOrigin("b")]);
    await ask(freshUser(), vars);
    const status = await gateStatus(vars);
    expect(status.gate).toMatchObject({ enabled: false, scope: "isolate", waiting: 0 });
    expect(status.origins.map((o) => [o.origin, o.max_concurrency, o.healthy, o.served_last_minute])).toEqual([
      ["0", null, true, 1],
      ["1", null, true, 0],
    ]);
  });

  it("names an origin by its host only, never by credentials in its URL", async () => {
    const url = `http://user:hunter2@${uniqueOrigin("c").slice(7)}?key=s3cret`;
    const { text } = await call("/admin/status", { headers: { Authorization: `Bearer ${ADMIN}` } }, gateVars("1", {}, [url]));
    expect(JSON.parse(text).origins[0].host).toMatch(/^c-.*\.test$/);
    expect(text).not.toMatch(/hunter2|s3cret|user/);
  });

  it("answers a pool/concurrency mismatch with 500 misconfigured naming the setting", async () => {
    const vars = gateVars("1,2,3", {}, [uniqueOrigin("a"), uniqueOrigin("b")]);
    const status = await call("/admin/status", { headers: { Authorization: `Bearer ${ADMIN}` } }, vars);
    expect(status.response.status).toBe(500);
    expect(status.json().error).toMatch(/ORIGIN_MAX_CONCURRENCY/);
    const request = await ask(freshUser(), vars);
    expect(request.response.status).toBe(500);
    expect(request.json().error).toMatch(/ORIGIN_MAX_CONCURRENCY lists 3 values for 2 origins/);
  });
});
