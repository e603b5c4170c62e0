/**
 * The pure pieces behind issue 12's fixes, tested without a request: the byte walk over JSON and
 * the usage insertion, redirect mapping, the usage-only chunk test, usage in large answers, the
 * strangers' tally and its bound on writes, and KV failures.
 */
import { describe, expect, it, vi } from "vitest";
import { FULL_CHECK_BYTES, inspectJsonBody } from "../src/lib/body";
import { JsonShapeError, lastMember, scanObject } from "../src/lib/jsonScan";
import { readKv } from "../src/lib/kv";
import { flushDelayOf, MAX_FLUSH_MS, minuteOf, StrangerTally } from "../src/lib/strangers";
import { connectionNamed, gatewayLocation } from "../src/upstream/headers";
import { isUsageOnlyChunk } from "../src/upstream/meterEventStream";
import { totalTokensInBody } from "../src/upstream/usage";

const encoder = new TextEncoder();
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("scanObject (the byte walk)", () => {
  it("finds each top-level member's key and value span, skipping strings with quotes and escapes", () => {
    const raw = ' { "a\\"b" : "x\\\\", "model":"m\\u00e9", "n": [1, {"}": "]"}], "t" : true } ';
    const bytes = encoder.encode(raw);
    const object = scanObject(bytes)!;
    expect(object.members.map((m) => m.key)).toEqual(['a"b', "model", "n", "t"]);
    const value = (key: string) => {
      const m = lastMember(object, key)!;
      return text(bytes.subarray(m.valueStart, m.valueEnd));
    };
    expect(value("model")).toBe('"m\\u00e9"');
    expect(value("n")).toBe('[1, {"}": "]"}]');
    expect(value("t")).toBe("true");
    expect(raw[object.end]).toBe("}");
  });

  it("keeps multi-byte UTF-8 intact (no continuation byte is a quote or backslash)", () => {
    const bytes = encoder.encode('{"content":"é✓😀\\"","model":"ü"}');
    expect(scanObject(bytes)!.members.map((m) => m.key)).toEqual(["content", "model"]);
  });

  it.each(['{"a":1', '{"a" 1}', '{"a":1,}', '{a:1}', '{"a":"x}', '{"a":[1}', '{"a":1} x', '{"a":}'])(
    "rejects the malformed object %s",
    (raw) => {
      expect(() => scanObject(encoder.encode(raw))).toThrow(JsonShapeError);
    },
  );

  it("returns null for a value that is not an object", () => {
    expect(scanObject(encoder.encode(" [1,2]"))).toBeNull();
  });
});

describe("inspectJsonBody: usage asked for by inserting bytes", () => {
  const inspect = (raw: string) => {
    const seen = inspectJsonBody(encoder.encode(raw));
    return { ...seen, text: text(seen.forward) };
  };

  it.each([
    ['{"stream":true}', '{"stream":true,"stream_options":{"include_usage":true}}'],
    ['{"stream":true , "x" : 1 }', '{"stream":true , "x" : 1,"stream_options":{"include_usage":true} }'],
    ['{"stream":true,"stream_options":{}}', '{"stream":true,"stream_options":{"include_usage":true}}'],
    ['{"stream":true,"stream_options":{"a":1}}', '{"stream":true,"stream_options":{"include_usage":true,"a":1}}'],
    ['{"stream":true,"stream_options":{"include_usage": false}}', '{"stream":true,"stream_options":{"include_usage": true}}'],
    ['{"stream":true,"stream_options":null}', '{"stream":true,"stream_options":{"include_usage":true}}'],
    ['{"stream_options":null,"stream":true,"stream_options":{"a":1}}', '{"stream_options":null,"stream":true,"stream_options":{"include_usage":true,"a":1}}'],
  ])("%s → %s", (raw, expected) => {
    const seen = inspect(raw);
    expect(seen.text).toBe(expected);
    expect(seen.addedUsage).toBe(true);
    expect(JSON.parse(seen.text).stream_options.include_usage).toBe(true);
  });

  it("reads model and stream as JSON.parse would (last duplicate wins, escapes decoded)", () => {
    expect(inspect('{"model":"a","model":"b\\u00e9","stream":false,"stream":true}')).toMatchObject({ model: "bé", stream: true });
    expect(inspect('{"model":"m","stream":"true"}')).toMatchObject({ stream: false, addedUsage: false });
  });

  it("checks a large body's top-level structure without parsing it whole", () => {
    const pad = "x".repeat(FULL_CHECK_BYTES);
    expect(() => inspect(`{"model":"m","messages":"${pad}"`)).toThrow(/not valid JSON/);
    expect(() => inspect(`{"model":"m","messages":"${pad}"} trailing`)).toThrow(/not valid JSON/);
    expect(inspect(`{"model":"m","stream":true,"messages":"${pad}"}`)).toMatchObject({ model: "m", addedUsage: true });
  });

  it("still rejects a small body that is only malformed inside a nested value", () => {
    expect(() => inspect('{"model":"m","messages":[1,,2]}')).toThrow(/not valid JSON/);
  });
});

describe("gatewayLocation (redirects from the origin)", () => {
  const called = "http://origin.test/base/v1/models";
  it.each([
    ["http://origin.test/base/v1/models/", "/v1/models/"],
    ["/base/v1/files?id=1#x", "/v1/files?id=1#x"],
    ["models/", "/v1/models/"],
    ["http://10.0.0.7/base/v1/models", null],
    ["https://origin.test/base/v1/models", null],
    ["/base2/v1/models", null],
    ["/base/admin", null],
    ["http://[::1", null],
  ])("%s → %s", (location, expected) => {
    expect(gatewayLocation(location, called, "http://origin.test/base")).toBe(expected);
  });

  it("works for an origin without a base path", () => {
    expect(gatewayLocation("/v1/x", "http://o.test/v1/y", "http://o.test")).toBe("/v1/x");
    expect(gatewayLocation("/login", "http://o.test/v1/y", "http://o.test/")).toBeNull();
  });

  it("reads the names a Connection header lists", () => {
    expect([...connectionNamed(new Headers({ Connection: "keep-alive,  X-A ,x-b" }))]).toEqual(["keep-alive", "x-a", "x-b"]);
  });
});

describe("isUsageOnlyChunk", () => {
  const ev = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;
  it.each([
    [ev({ choices: [], usage: { total_tokens: 3 } }), true],
    [ev({ choices: [], usage: null }), false],
    [ev({ choices: [], prompt_filter_results: [] }), false],
    [ev({ choices: [{ delta: {} }], usage: { total_tokens: 3 } }), false],
    [ev({ choices: [], note: 'say "usage"' }), false],
    ["data: [DONE]\n\n", false],
  ])("%s → %s", (event, expected) => {
    expect(isUsageOnlyChunk(event)).toBe(expected);
  });
});

describe("totalTokensInBody", () => {
  it("finds usage at the end of a large answer without parsing the rest", () => {
    const big = `{"data":"${"z".repeat(200_000)}","usage":{"prompt_tokens":1,"total_tokens":99,"details":{"a":1}}}`;
    expect(totalTokensInBody(encoder.encode(big))).toBe(99);
    expect(totalTokensInBody(encoder.encode(`{"data":"${"z".repeat(200_000)}"}`))).toBeNull();
    expect(totalTokensInBody(encoder.encode('{"usage":{"total_tokens":5}}'))).toBe(5);
  });
});

describe("StrangerTally (the bound on D1 writes)", () => {
  /** A D1 stand-in that records each batch's statements. */
  function recordingDb(fail = false) {
    const batches: unknown[][][] = [];
    const db = {
      prepare: () => ({ bind: (...args: unknown[]) => args }),
      batch: async (statements: unknown[][]) => {
        if (fail) throw new Error("D1 down");
        batches.push(statements);
        return [];
      },
    } as unknown as D1Database;
    return { db, batches };
  }

  it("writes 10,000 requests in one interval as one batch of one upsert per (minute, class, status)", async () => {
    const { db, batches } = recordingDb();
    const tally = new StrangerTally();
    const at = Date.parse("2026-11-30T09:10:30Z");
    const flushes = [];
    for (let i = 0; i < 10_000; i++) {
      const flush = tally.count(db, at + (i % 2) * 40_000, i % 3 ? "not_found" : "bad_user_key", i % 3 ? 404 : 401, 0);
      if (flush) flushes.push(flush);
    }
    expect(flushes).toHaveLength(1);
    await Promise.all(flushes);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toHaveLength(4); // 2 minutes × 2 classes
    const total = batches[0].reduce((sum, args) => sum + (args[3] as number), 0);
    expect(total).toBe(10_000);
    expect(batches[0]).toContainEqual(["2026-11-30 09:10:00.000", "not_found", 404, 3333]);
  });

  it("puts the counts back when a flush fails, for the next one", async () => {
    const failing = recordingDb(true);
    const tally = new StrangerTally();
    vi.useFakeTimers();
    try {
      const first = tally.count(failing.db, 0, "not_found", 404, 10)!;
      vi.advanceTimersByTime(10);
      await expect(first).rejects.toThrow(/D1 down/);
    } finally {
      vi.useRealTimers();
    }
    const working = recordingDb();
    await tally.count(working.db, 0, "not_found", 404, 0);
    expect(working.batches[0]).toEqual([["1970-01-01 00:00:00.000", "not_found", 404, 2]]);
  });

  it("reads STRANGER_FLUSH_MS with a default and a ceiling under waitUntil's 30 s", () => {
    expect(flushDelayOf(undefined)).toBe(20_000);
    expect(flushDelayOf("nope")).toBe(20_000);
    expect(flushDelayOf("0")).toBe(0);
    expect(flushDelayOf("600000")).toBe(MAX_FLUSH_MS);
    expect(minuteOf(Date.parse("2026-11-30T09:10:59.999Z"))).toBe("2026-11-30 09:10:00.000");
  });
});

describe("readKv", () => {
  it("turns a failed KV read into a 503 kv_unavailable with Retry-After", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const kv = { get: async () => Promise.reject(new Error("KV down")) } as unknown as KVNamespace;
    await expect(readKv(kv, "tier:alice")).rejects.toMatchObject({
      status: 503,
      errorClass: "kv_unavailable",
      headers: { "Retry-After": "5" },
    });
    vi.restoreAllMocks();
  });
});
