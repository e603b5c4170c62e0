/**
 * The pure parts of the event controls: the byte edit of the max_tokens cap, PATCH validation,
 * the user object's decision, and the budget window.
 */
import { describe, expect, it } from "vitest";
import { budgetWindow, needsSeed } from "../src/controls/budget";
import { EMPTY_SNAPSHOT, parseControlsPatch, parseTier, sqlTimestamp } from "../src/controls/shape";
import { admit, DEFAULT_SETTINGS, type AdmitRequest } from "../src/limiter/admit";
import { JsonShapeError } from "../src/lib/jsonScan";
import { capMaxTokens } from "../src/lib/tokenCap";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const cap = (body: string, n: number, add = true) => text(capMaxTokens(bytes(body), n, add));

describe("capMaxTokens", () => {
  it("lowers only values above the cap, byte for byte elsewhere", () => {
    expect(cap('{ "max_tokens" : 900 ,"x":[1,{"max_tokens":5000}]}', 100)).toBe('{ "max_tokens" : 100 ,"x":[1,{"max_tokens":5000}]}');
    expect(cap('{"max_tokens":100}', 100)).toBe('{"max_tokens":100}');
    expect(cap('{"max_tokens":-1}', 100)).toBe('{"max_tokens":-1}');
  });

  it("caps both fields, duplicates, exponents, strings and null", () => {
    expect(cap('{"max_tokens":1e3,"max_completion_tokens":"9000","max_tokens":null}', 8)).toBe('{"max_tokens":8,"max_completion_tokens":8,"max_tokens":8}');
  });

  it("adds max_tokens when neither field is there (and only when asked)", () => {
    expect(cap("{}", 5)).toBe('{"max_tokens":5}');
    expect(cap(' {"a":"}"}', 5)).toBe(' {"max_tokens":5,"a":"}"}');
    expect(cap('{"a":1}', 5, false)).toBe('{"a":1}');
    expect(cap('{"max_completion_tokens":3}', 5)).toBe('{"max_completion_tokens":3}');
  });

  it("reads escaped keys and strings with escaped quotes", () => {
    expect(cap('{"s":"a\\"b","max\\u005ftokens":70}', 10)).toBe('{"s":"a\\"b","max\\u005ftokens":10}');
  });

  it("returns the same array when nothing changes", () => {
    const body = bytes('{"max_tokens":1}');
    expect(capMaxTokens(body, 5, true)).toBe(body);
  });

  it.each(["[1]", '"x"', ""])("leaves %j, which is not an object, as it is", (body) => {
    const input = bytes(body);
    expect(capMaxTokens(input, 5, true)).toBe(input);
  });

  it.each(['{"a" 1}', '{"a":1', '{"a":"x}', '{"a":1} x'])("refuses the malformed %j", (body) => {
    expect(() => capMaxTokens(bytes(body), 5, true)).toThrow(JsonShapeError);
  });
});

describe("parseControlsPatch", () => {
  it("accepts every shape of the contract", () => {
    expect(
      parseControlsPatch({
        maintenance: { on: true, message: "back at 10:15" },
        limit_per_minute: 0,
        models: ["a", "a", "b"],
        max_tokens: 1,
        budget: { tokens: 5, per: "event" },
      }),
    ).toEqual({ maintenance: { on: true, message: "back at 10:15" }, limit_per_minute: 0, models: ["a", "b"], max_tokens: 1, budget: { tokens: 5, per: "event" } });
    expect(parseControlsPatch({ maintenance: null, models: null, budget: null })).toEqual({ maintenance: { on: false, message: null }, models: null, budget: null });
    expect(parseControlsPatch({ maintenance: { on: false, message: "kept?" } })).toEqual({ maintenance: { on: false, message: null } });
  });

  it.each([
    [{ maintenance: { on: true, extra: 1 } }, /^maintenance\.extra /],
    [{ maintenance: { on: true, message: "x".repeat(501) } }, /^maintenance\.message /],
    [{ budget: { tokens: 0, per: "hour" } }, /^budget\.tokens /],
    [{ models: [""] }, /^models /],
    [{ limit_per_minute: "5" }, /^limit_per_minute /],
    [null, /^The body /],
  ])("refuses %j naming the field", (body, message) => {
    expect(() => parseControlsPatch(body)).toThrow(message);
  });

  it("validates a tier", () => {
    expect(parseTier({ limit: 0 })).toBe(0);
    expect(() => parseTier({ limit: 1.5 })).toThrow(/^limit /);
    expect(() => parseTier({})).toThrow(/^limit /);
  });

  it("writes timestamps as 'YYYY-MM-DD HH:MM:SS.sss' UTC", () => {
    expect(sqlTimestamp(Date.UTC(2026, 10, 30, 9, 0, 1, 23))).toBe("2026-11-30 09:00:01.023");
  });
});

describe("admit (the user object's decision)", () => {
  const now = Date.UTC(2026, 10, 30, 9, 0, 30);
  const request = (extra: Partial<AdmitRequest> = {}): AdmitRequest => ({ limit: 2, keyGeneration: null, budget: null, ...extra });
  const none = { used: 0, seeded: false };

  it("counts up to the limit; an admin tier wins, 0 blocks without counting", () => {
    const first = admit(DEFAULT_SETTINGS, null, none, request(), now);
    expect(first.admit).toMatchObject({ kind: "rate", decision: { allowed: true, remaining: 1 } });
    const tiered = admit({ ...DEFAULT_SETTINGS, tier: 5 }, first.window, none, request(), now);
    expect(tiered.admit).toMatchObject({ kind: "rate", decision: { allowed: true, limit: 5, remaining: 3 } });
    const blocked = admit({ ...DEFAULT_SETTINGS, tier: 0 }, first.window, none, request(), now);
    expect(blocked).toMatchObject({ admit: { kind: "rate", decision: { allowed: false, limit: 0 } }, window: null });
  });

  it("refuses a revoked user and a key of another generation, before counting", () => {
    expect(admit({ ...DEFAULT_SETTINGS, revoked: true }, null, none, request(), now)).toEqual({ admit: { kind: "refused", reason: "revoked" }, window: null });
    expect(admit({ ...DEFAULT_SETTINGS, generation: 1 }, null, none, request({ keyGeneration: 0 }), now).admit).toEqual({ kind: "refused", reason: "stale_key" });
    expect(admit({ ...DEFAULT_SETTINGS, generation: 1 }, null, none, request({ keyGeneration: 1 }), now).admit.kind).toBe("rate");
    // Keys off: the generation is not checked.
    expect(admit({ ...DEFAULT_SETTINGS, generation: 3 }, null, none, request(), now).admit.kind).toBe("rate");
  });

  it("refuses a spent budget without counting the request", () => {
    const budget = { tokens: 10, window: "w", retryAfterS: 60 };
    expect(admit(DEFAULT_SETTINGS, null, { used: 10, seeded: true }, request({ budget }), now)).toEqual({
      admit: { kind: "budget", used: 10, tokens: 10, retryAfterS: 60 },
      window: null,
    });
    expect(admit(DEFAULT_SETTINGS, null, { used: 9, seeded: true }, request({ budget }), now).admit.kind).toBe("rate");
  });
});

describe("budgetWindow", () => {
  const since = Date.UTC(2026, 10, 30, 9, 20);
  const snapshot = (per: "hour" | "event") => ({ ...EMPTY_SNAPSHOT, controls: { ...EMPTY_SNAPSHOT.controls, budget: { tokens: 5, per } }, budgetSince: since });

  it("is the UTC hour for an hourly budget, with Retry-After to the next hour", () => {
    const at = Date.UTC(2026, 10, 30, 9, 59, 30);
    const window = budgetWindow(snapshot("hour"), at)!;
    expect(window).toMatchObject({ tokens: 5, retryAfterS: 30, logFrom: Date.UTC(2026, 10, 30, 9) });
    expect(needsSeed(window)).toBe(true); // the hour began before the budget
    const next = budgetWindow(snapshot("hour"), Date.UTC(2026, 10, 30, 10, 5))!;
    expect(next.window).not.toBe(window.window);
    expect(needsSeed(next)).toBe(false);
  });

  it("is the whole event for an event budget, seeded from the whole log", () => {
    const window = budgetWindow(snapshot("event"), since + 5_000)!;
    expect(window).toMatchObject({ logFrom: null, retryAfterS: 3600 });
    expect(needsSeed(window)).toBe(true);
    expect(budgetWindow(EMPTY_SNAPSHOT, since)).toBeNull();
  });
});
