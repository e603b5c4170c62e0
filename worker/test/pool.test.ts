/**
 * A pool of origins (`OPENCLAW_URL` with commas), with the gate on and off: the most free origin
 * gets the request, a refused connection is retried once elsewhere, an origin that keeps failing
 * cools down and is probed back in, and with every origin down the answer is a fast 502.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { COOL_DOWN_MS, FAILURES_TO_COOL } from "../src/gate/health";
import { freshUser, jsonResponse, rowFor, type Vars } from "./helpers";
import { ask, controlledOrigin, gateStatus, gateVars, sleep, uniqueOrigin, until } from "./gateHelpers";

afterEach(() => vi.restoreAllMocks());

/** Origin "a" refuses connections (as workerd reports it) while `a.up` is false; "b" answers. */
function refusingA() {
  const a = { up: false, calls: 0 };
  const b = { calls: 0 };
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const host = new URL(new Request(input, init).url).host;
    if (host.startsWith("a-")) {
      a.calls++;
      if (!a.up) throw new TypeError("Network connection lost.");
    } else {
      b.calls++;
    }
    return jsonResponse({ from: host.slice(0, 1) });
  });
  return { a, b, spy };
}

const modes: Array<[string, string | undefined]> = [
  ["with the gate", "1,1"],
  ["without the gate", undefined],
];

describe.each(modes)("a pool %s", (_mode, concurrency) => {
  const poolVars = (): Vars => gateVars(concurrency, {}, [uniqueOrigin("a"), uniqueOrigin("b")]);

  it("sends a request refused before anything was sent once more, to another origin", async () => {
    const { a, b } = refusingA();
    const { response, json } = await ask(freshUser(), poolVars());
    expect(response.status).toBe(200);
    expect(json()).toEqual({ from: "b" });
    expect([a.calls, b.calls]).toEqual([1, 1]);
    expect((await rowFor(response)).origin).toBe("1");
  });

  it("does not retry a connection lost after the origin started working, nor a second time", async () => {
    let calls = 0;
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => {
      calls++;
      await sleep(600);
      throw new TypeError("Network connection lost.");
    });
    expect((await ask(freshUser(), poolVars())).response.status).toBe(502);
    expect(calls).toBe(1);
    calls = 0;
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => {
      calls++;
      throw new TypeError("Network connection lost.");
    });
    expect((await ask(freshUser(), poolVars())).response.status).toBe(502);
    expect(calls).toBe(2);
  });

  it(`takes an origin out after ${FAILURES_TO_COOL} refusals and probes it back in after the cool-down`, async () => {
    const { a, b } = refusingA();
    const vars = poolVars();
    for (let i = 0; i < FAILURES_TO_COOL; i++) expect((await ask(freshUser(), vars)).response.status).toBe(200);
    expect(a.calls).toBe(FAILURES_TO_COOL);
    expect((await ask(freshUser(), vars)).response.status).toBe(200);
    expect(a.calls).toBe(FAILURES_TO_COOL); // out: not even tried
    expect((await gateStatus(vars)).origins.map((o) => o.healthy)).toEqual([false, true]);

    a.up = true;
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, "now").mockImplementation(() => realNow() + COOL_DOWN_MS + 1);
    const probe = await ask(freshUser(), vars);
    expect(a.calls).toBe(FAILURES_TO_COOL + 1);
    expect((await rowFor(probe.response)).origin).toBe("0");
    await until(async () => (await gateStatus(vars)).origins[0].healthy);
    expect(b.calls).toBe(FAILURES_TO_COOL + 1);
  });

  it(`takes out an origin that times out ${FAILURES_TO_COOL} times (504s, not retried)`, async () => {
    const calls = { a: 0, b: 0 };
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const request = new Request(input, init);
      if (new URL(request.url).host.startsWith("b-")) {
        calls.b++;
        return jsonResponse({ from: "b" });
      }
      calls.a++;
      return new Promise<Response>((_resolve, reject) => request.signal.addEventListener("abort", () => reject(new Error("aborted"))));
    });
    // One request at a time: both origins idle, the tie goes to "a" for as long as it is healthy.
    const vars = { ...poolVars(), UPSTREAM_TIMEOUT_MS: "100" };
    for (let i = 0; i < FAILURES_TO_COOL; i++) expect((await ask(freshUser(), vars)).response.status).toBe(504);
    expect(calls).toEqual({ a: FAILURES_TO_COOL, b: 0 });
    expect((await ask(freshUser(), vars)).response.status).toBe(200);
    expect(calls).toEqual({ a: FAILURES_TO_COOL, b: 1 });
  });

  it("answers a fast 502 with Retry-After when every origin is down", async () => {
    let calls = 0;
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => {
      calls++;
      throw new TypeError("Network connection lost.");
    });
    const vars = poolVars();
    for (let i = 0; i < FAILURES_TO_COOL; i++) expect((await ask(freshUser(), vars)).response.status).toBe(502);
    expect(calls).toBe(2 * FAILURES_TO_COOL);
    const started = Date.now();
    const { response, json } = await ask(freshUser(), vars);
    expect(Date.now() - started).toBeLessThan(250);
    expect(calls).toBe(2 * FAILURES_TO_COOL);
    expect(response.status).toBe(502);
    expect(Number(response.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(json().error).toMatch(/every origin/);
    expect((await rowFor(response)).error_class).toBe("upstream_unreachable");
  });
});

describe("origin choice", () => {
  it("with the gate: the origin with the most free slots (ORIGIN_MAX_CONCURRENCY=1,3)", async () => {
    const origin = controlledOrigin();
    const vars = gateVars("1,3", {}, [uniqueOrigin("a"), uniqueOrigin("b")]);
    const pending = [];
    for (let i = 1; i <= 4; i++) {
      pending.push(ask(freshUser(), vars));
      await until(() => origin.state.hosts.length === i);
    }
    expect(origin.state.hosts).toEqual(["b", "b", "a", "b"]);
    pending.push(ask(freshUser(), vars));
    await until(async () => (await gateStatus(vars)).gate.waiting === 1); // both full now
    origin.openUp();
    await Promise.all(pending);
  });

  it("without the gate: the origin with the fewest requests in flight from this isolate", async () => {
    const origin = controlledOrigin();
    const vars = gateVars(undefined, {}, [uniqueOrigin("a"), uniqueOrigin("b")]);
    const pending = [];
    for (let i = 1; i <= 4; i++) {
      pending.push(ask(freshUser(), vars));
      await until(() => origin.state.hosts.length === i);
    }
    expect(origin.state.hosts).toEqual(["a", "b", "a", "b"]);
    origin.openUp();
    await Promise.all(pending);
  });

  it("a lone origin without a gate is never taken out (nowhere else to go)", async () => {
    let calls = 0;
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => {
      calls++;
      throw new TypeError("Network connection lost.");
    });
    const vars = gateVars(undefined);
    for (let i = 0; i < FAILURES_TO_COOL + 2; i++) expect((await ask(freshUser(), vars)).response.status).toBe(502);
    expect(calls).toBe(FAILURES_TO_COOL + 2);
  });
});
