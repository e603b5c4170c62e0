/**
 * The controls' published copy in D1 (`control_state`, migration 0006), in workerd: requests read
 * it and never the controls object (issue 14's cost promise), shown failing on the path that reads
 * the object; a change reaches another isolate through it; a failed publish answers 502 and a
 * retry or a GET heals it; an older version never replaces a newer one; and without the table
 * (an older deployment), or when D1's read fails, requests are still served, through the object.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { controlsReads, controlsStub, CONTROLS_TTL_MS, forgetControls } from "../src/controls/cache";
import { UNPUBLISHED_MESSAGE } from "../src/admin/controls";
import { readPublished, writePublished } from "../src/controls/mirror";
import { EMPTY_SNAPSHOT, NO_CONTROLS, type ControlsSnapshot } from "../src/controls/shape";
import { admin, auditRows, chat, resetControls, VARS } from "./controlsHelpers";
import { sleep } from "./gateHelpers";
import { freshUser, jsonResponse, mockOrigin, statusCounts, type Vars } from "./helpers";

/** An origin that answers every chat and remembers the bodies it received. */
function origin() {
  const bodies: string[] = [];
  mockOrigin(async (request) => {
    bodies.push(await request.text());
    return jsonResponse({ choices: [{ message: { content: "hi" } }], usage: { total_tokens: 3 } });
  });
  return bodies;
}

/**
 * The gateway's vars with an EVENT_CONTROLS binding that counts every stub the Worker asks for:
 * any call to the controls object needs one.
 */
function countingControls(): { stubs: () => number; vars: Vars } {
  const namespace = env.EVENT_CONTROLS;
  let stubs = 0;
  const counting = {
    idFromName: (name: string) => namespace.idFromName(name),
    get: (id: DurableObjectId) => {
      stubs++;
      return namespace.get(id);
    },
  };
  return { stubs: () => stubs, vars: { ...VARS, EVENT_CONTROLS: counting } as unknown as Vars };
}

/** Bursts of requests over `windows` cache windows; every status, and the reads they caused. */
async function requestsOverWindows(vars: Vars, windows = 2, burst = 10) {
  const before = controlsReads();
  const responses: Response[] = [];
  for (let window = 0; window < windows; window++) {
    for (const { response } of await Promise.all(Array.from({ length: burst }, () => chat(freshUser(), {}, vars)))) responses.push(response);
    await sleep(CONTROLS_TTL_MS + 50);
  }
  const after = controlsReads();
  return { statuses: statusCounts(responses), mirrorReads: after.mirror - before.mirror, objectReads: after.object - before.object };
}

/** Runs `body` on a D1 without `control_state` (as before migration 0006), then puts the table back. */
async function withoutTable(body: () => Promise<void>): Promise<void> {
  await env.DB.prepare("DROP TABLE control_state").run();
  forgetControls();
  try {
    await body();
  } finally {
    const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith("0006_"))!;
    await env.DB.batch(migration.queries.map((query) => env.DB.prepare(query)));
    forgetControls();
  }
}

/** Makes every write to `control_state` fail, as a D1 outage would; returns the cure. */
async function failingPublishes(): Promise<() => Promise<void>> {
  const names = ["control_state_down_insert", "control_state_down_update"];
  await env.DB.batch([
    env.DB.prepare(`CREATE TRIGGER ${names[0]} BEFORE INSERT ON control_state BEGIN SELECT RAISE(ABORT, 'simulated D1 outage'); END`),
    env.DB.prepare(`CREATE TRIGGER ${names[1]} BEFORE UPDATE ON control_state BEGIN SELECT RAISE(ABORT, 'simulated D1 outage'); END`),
  ]);
  return async () => {
    await env.DB.batch(names.map((name) => env.DB.prepare(`DROP TRIGGER IF EXISTS ${name}`)));
  };
}

/** The object's own state (what D1's copy must match). */
async function objectState() {
  return controlsStub(env.EVENT_CONTROLS).current();
}

let cure: (() => Promise<void>) | null = null;

// No test here counts against the per-minute limit, so none waits for a minute's edge.
beforeEach(resetControls);
afterEach(async () => {
  vi.restoreAllMocks();
  await cure?.();
  cure = null;
  await resetControls();
});

describe("the cost promise: no Durable Object request for the controls", () => {
  it("with no control in use, requests over several cache windows never call the controls object", async () => {
    origin();
    const { stubs, vars } = countingControls();
    const { statuses, mirrorReads, objectReads } = await requestsOverWindows(vars);
    expect(statuses).toEqual({ 200: 20 });
    expect(mirrorReads).toBeGreaterThanOrEqual(2); // the cache did refresh, from D1, each window
    expect(stubs()).toBe(0);
    expect(objectReads).toBe(0);
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM control_state").first("n")).toBe(0); // nothing was ever set
  });

  it("nor with controls in use", async () => {
    const bodies = origin();
    await admin("PATCH", "/admin/controls", { max_tokens: 9, models: ["test-model"] });
    const { stubs, vars } = countingControls();
    forgetControls(); // as an isolate that did not make the change
    const { statuses, objectReads } = await requestsOverWindows(vars, 2, 5);
    expect(statuses).toEqual({ 200: 10 });
    expect(bodies.every((body) => JSON.parse(body).max_tokens === 9)).toBe(true);
    expect([stubs(), objectReads]).toEqual([0, 0]);
  });

  it("the same check fails on the path that reads the object (no control_state): a call per cache window", async () => {
    origin();
    vi.spyOn(console, "warn").mockImplementation(() => {});
    await withoutTable(async () => {
      const { stubs, vars } = countingControls();
      const { statuses, objectReads } = await requestsOverWindows(vars);
      expect(statuses).toEqual({ 200: 20 });
      expect(stubs()).toBeGreaterThanOrEqual(2);
      expect(objectReads).toBeGreaterThanOrEqual(2);
    });
  });
});

describe("a change reaches every isolate through D1's copy", () => {
  it("publishes each change with a new version, and the copy is what another isolate reads", async () => {
    origin();
    const user = freshUser();
    const first = await admin("PATCH", "/admin/controls", { limit_per_minute: 7 });
    expect(first.response.status).toBe(200);
    const published = (await readPublished(env.DB))!;
    expect(published.version).toBe(1);
    expect(published.snapshot).toEqual((await objectState()).snapshot);
    await admin("PATCH", "/admin/controls", { limit_per_minute: 7 }); // no change: no new version
    expect((await readPublished(env.DB))!.version).toBe(1);
    await admin("PUT", `/admin/users/${user}/tier`, { limit: 0 });
    const second = (await readPublished(env.DB))!;
    expect(second.version).toBe(2);
    expect(second.snapshot.users[user]).toEqual({ limit: 0 });
    forgetControls();
    const { stubs, vars } = countingControls();
    expect((await chat(freshUser(), { max_tokens: 3 }, vars)).response.headers.get("X-RateLimit-Limit")).toBe("7");
    expect(stubs()).toBe(0);
  });

  it("answers the empty controls while nothing was ever set, and a GET then writes no row", async () => {
    expect((await admin("GET", "/admin/controls")).json()).toEqual(NO_CONTROLS);
    expect(await readPublished(env.DB)).toBeNull();
  });
});

describe("a publish that fails", () => {
  it("answers 502 saying the change is saved but not in force; a GET heals it and requests see it", async () => {
    origin();
    const user = freshUser();
    expect((await chat(user)).response.status).toBe(200);
    cure = await failingPublishes();
    vi.spyOn(console, "error").mockImplementation(() => {});
    const patch = await admin("PATCH", "/admin/controls", { maintenance: { on: true, message: "Back soon." } });
    expect(patch.response.status).toBe(502);
    expect(patch.json()).toEqual({ error: UNPUBLISHED_MESSAGE });
    expect(UNPUBLISHED_MESSAGE).toMatch(/saved but not yet in force.*Retry/);
    expect((await auditRows()).map((r) => r.action)).toEqual(["maintenance"]); // saved and audited
    expect((await objectState()).snapshot.controls.maintenance.on).toBe(true);
    forgetControls(); // any isolate: not in force yet
    expect((await chat(user)).response.status).toBe(200);
    expect((await admin("GET", "/admin/controls")).response.status).toBe(502); // still failing: says so again
    await cure();
    const healed = await admin("GET", "/admin/controls");
    expect(healed.response.status).toBe(200);
    expect(healed.json().maintenance).toEqual({ on: true, message: "Back soon." });
    expect((await readPublished(env.DB))!.version).toBe((await objectState()).version);
    forgetControls();
    expect((await chat(user)).response.status).toBe(503);
  });

  it("a retry of the same change heals it without a second audit row", async () => {
    const bodies = origin();
    cure = await failingPublishes();
    vi.spyOn(console, "error").mockImplementation(() => {});
    expect((await admin("PATCH", "/admin/controls", { max_tokens: 11 })).response.status).toBe(502);
    await cure();
    const retry = await admin("PATCH", "/admin/controls", { max_tokens: 11 });
    expect(retry.response.status).toBe(200);
    expect(retry.json().max_tokens).toBe(11);
    expect(await auditRows()).toHaveLength(1);
    forgetControls();
    await chat(freshUser());
    expect(JSON.parse(bodies[0]).max_tokens).toBe(11);
  });

  it("a per-user change holds at once in the user's object; GET /admin/status publishes the directory", async () => {
    origin();
    const user = freshUser();
    cure = await failingPublishes();
    vi.spyOn(console, "error").mockImplementation(() => {});
    const put = await admin("PUT", `/admin/users/${user}/tier`, { limit: 0 });
    expect(put.response.status).toBe(502);
    expect(put.json().error).toBe(UNPUBLISHED_MESSAGE);
    forgetControls();
    expect((await chat(user)).response.status).toBe(403); // the user's own object has the tier
    expect((await readPublished(env.DB))?.snapshot.users[user]).toBeUndefined();
    await cure();
    expect((await admin("GET", "/admin/status")).response.status).toBe(200);
    expect((await readPublished(env.DB))!.snapshot.users[user]).toEqual({ limit: 0 });
  });
});

describe("versions", () => {
  const snapshot = (limit: number): ControlsSnapshot => ({ ...EMPTY_SNAPSHOT, controls: { ...NO_CONTROLS, limit_per_minute: limit } });

  it("an older version never replaces a newer one; the same version again writes nothing", async () => {
    expect(await writePublished(env.DB, { version: 5, snapshot: snapshot(5) })).toBe(true);
    expect(await writePublished(env.DB, { version: 3, snapshot: snapshot(3) })).toBe(false);
    expect(await writePublished(env.DB, { version: 5, snapshot: snapshot(55) })).toBe(false);
    expect((await readPublished(env.DB))!.snapshot.controls.limit_per_minute).toBe(5);
    expect(await writePublished(env.DB, { version: 6, snapshot: snapshot(6) })).toBe(true);
    expect((await readPublished(env.DB))!).toMatchObject({ version: 6, snapshot: snapshot(6) });
  });

  it("concurrent changes each get their own version, and D1 ends with the object's last state", async () => {
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => admin("PATCH", "/admin/controls", { limit_per_minute: 100 + i })));
    expect(answers.map((a) => a.response.status)).toEqual(Array(12).fill(200));
    const state = await objectState();
    expect(state.version).toBe(12);
    const published = (await readPublished(env.DB))!;
    expect(published.version).toBe(12);
    expect(published.snapshot).toEqual(state.snapshot);
  });

  it("a controls object that lost its storage still wins over an older copy with a higher version", async () => {
    origin();
    await writePublished(env.DB, { version: 40, snapshot: snapshot(1) }); // left over from before the loss
    const patch = await admin("PATCH", "/admin/controls", { limit_per_minute: 8 });
    expect(patch.response.status).toBe(200);
    const published = (await readPublished(env.DB))!;
    expect(published.version).toBe(41);
    expect(published.snapshot.controls.limit_per_minute).toBe(8);
    forgetControls();
    expect((await chat(freshUser())).response.headers.get("X-RateLimit-Limit")).toBe("8");
  });
});

describe("without the control_state table (migration 0006 not applied)", () => {
  it("serves requests and applies changes through the object, warning once per isolate", async () => {
    origin();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    await withoutTable(async () => {
      const user = freshUser();
      expect((await chat(user)).response.status).toBe(200);
      const patch = await admin("PATCH", "/admin/controls", { maintenance: { on: true, message: "old deployment" } });
      expect(patch.response.status).toBe(200); // in force: every isolate reads the object
      await sleep(CONTROLS_TTL_MS + 50);
      const paused = await chat(user);
      expect(paused.response.status).toBe(503);
      expect(paused.json().error).toBe("old deployment");
      await sleep(CONTROLS_TTL_MS + 50);
      expect((await chat(user)).response.status).toBe(503);
      expect((await admin("GET", "/admin/controls")).response.status).toBe(200);
      expect(controlsReads().object).toBeGreaterThanOrEqual(2);
      const warnings = warn.mock.calls.filter((args) => String(args[0]).includes("control_state"));
      expect(warnings).toHaveLength(1);
    });
  });
});

describe("when D1 cannot answer the read", () => {
  it("serves the request from the controls object (the authority) and logs why", async () => {
    const bodies = origin();
    await admin("PATCH", "/admin/controls", { max_tokens: 5 });
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    // A D1 whose control_state read fails as an outage would; the access log's writes still go through.
    const down = {
      prepare: (sql: string) => {
        if (sql.includes("FROM control_state")) throw new Error("D1_ERROR: simulated network failure");
        return env.DB.prepare(sql);
      },
      batch: (statements: D1PreparedStatement[]) => env.DB.batch(statements),
    };
    forgetControls();
    const before = controlsReads().object;
    const { response } = await chat(freshUser(), { max_tokens: 50 }, { ...VARS, DB: down } as unknown as Vars);
    expect(response.status).toBe(200);
    expect(JSON.parse(bodies[0]).max_tokens).toBe(5); // the controls in force, read from the object
    expect(controlsReads().object).toBe(before + 1);
    expect(error.mock.calls.some((args) => String(args[0]).includes("reading D1 control_state failed"))).toBe(true);
  });
});
