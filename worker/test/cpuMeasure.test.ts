/**
 * Measures, inside workerd (its V8), the CPU the Worker spends inspecting a request body — the
 * work that grows with the body — for small and 4 MiB (MAX_BODY_BYTES) bodies, now (byte walk and
 * insertion) and as before (decode, JSON.parse, JSON.stringify, encode). Reports figures and
 * asserts nothing about time; skipped unless asked for:
 *
 *   cd worker && CPU_MEASURE=1 npx vitest run test/cpuMeasure.test.ts
 *
 * The clock advances inside the test runner's workerd (it does not in production), so wall time
 * around a loop is used; the minimum of several rounds is the estimate least disturbed by other
 * processes on the machine. End-to-end figures with the runtime's own transfer costs come from
 * `scripts/cpu-bench.mjs`.
 */
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { inspectJsonBody } from "../src/lib/body";
import { totalTokensInBody, totalTokensInJson } from "../src/upstream/usage";

const MiB = 1024 * 1024;
const encoder = new TextEncoder();

/** The inspection as it was before issue 12 (commit d550982), for comparison. */
function inspectBefore(body: Uint8Array): Uint8Array {
  const fields = JSON.parse(new TextDecoder().decode(body)) as Record<string, unknown>;
  if (fields.stream !== true) return body;
  fields.stream_options = { include_usage: true };
  return encoder.encode(JSON.stringify(fields));
}

function oneMessage(size: number, stream: boolean): Uint8Array {
  const shell = JSON.stringify({ model: "gpt-4o-mini", stream, messages: [{ role: "user", content: "" }] });
  const text = "lorem ipsum ".repeat(Math.ceil(size / 12)).slice(0, size - shell.length);
  return encoder.encode(shell.replace('"content":""', `"content":"${text}"`));
}

function manyMessages(size: number, stream: boolean): Uint8Array {
  const message = { role: "user", content: "word ".repeat(30) };
  const count = Math.floor((size - 100) / (JSON.stringify(message).length + 1));
  return encoder.encode(JSON.stringify({ model: "gpt-4o-mini", stream, messages: Array.from({ length: count }, () => message) }));
}

/** Milliseconds per call: min and median over `rounds` rounds of `n` calls. */
function timePerCall(fn: () => unknown, n: number, rounds = 7): { min: number; median: number } {
  for (let i = 0; i < 3; i++) fn();
  const perCall: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < n; i++) fn();
    perCall.push((performance.now() - start) / n);
  }
  perCall.sort((a, b) => a - b);
  return { min: perCall[0], median: perCall[Math.floor(rounds / 2)] };
}

it.skipIf(!env.CPU_MEASURE)("reports the body inspection's CPU per request, now and before", () => {
  const small = encoder.encode(JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true }));
  const answer = encoder.encode(JSON.stringify({ data: "z".repeat(4 * MiB - 200), usage: { total_tokens: 9 } }));
  const rows: string[] = [];
  const big = [
    ["request 4 MiB, one message", oneMessage(4 * MiB, false)],
    ["request 4 MiB, one message, stream", oneMessage(4 * MiB, true)],
    ["request 4 MiB, 22k messages, stream", manyMessages(4 * MiB, true)],
  ] as const;
  const fmt = (x: number) => x.toFixed(3).padStart(9);
  const line = (name: string, now: { min: number; median: number }, before: { min: number; median: number }) =>
    `${name.padEnd(38)} ${fmt(now.min)} ${fmt(now.median)} ${fmt(before.min)} ${fmt(before.median)}`;
  rows.push(line(`request ${small.length} B, stream`, timePerCall(() => inspectJsonBody(small), 2000), timePerCall(() => inspectBefore(small), 2000)));
  for (const [name, body] of big) {
    expect(body.byteLength).toBeLessThanOrEqual(4 * MiB);
    rows.push(line(name, timePerCall(() => inspectJsonBody(body), 5), timePerCall(() => inspectBefore(body), 5)));
  }
  rows.push(
    line(
      "answer 4 MiB JSON: usage",
      timePerCall(() => totalTokensInBody(answer), 5),
      timePerCall(() => totalTokensInJson(new TextDecoder().decode(answer)), 5),
    ),
  );
  console.log(
    [
      "body inspection inside workerd, ms per request (min and median of 7 rounds):",
      `${"body".padEnd(38)} ${"now min".padStart(9)} ${"now med".padStart(9)} ${"before min".padStart(9)} ${"before med".padStart(9)}`,
      ...rows,
    ].join("\n"),
  );
}, 120_000);
