/**
 * Test helpers: call the gateway inside workerd with chosen vars, intercept its calls to the
 * origin, and read the access log.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import app from "../src/index";
import type { AccessRecord } from "../src/lib/accessLog";

export const ORIGIN = "http://origin.test/base";

export type Vars = Partial<Record<keyof Env, string>>;

/**
 * Waits for the next UTC minute when less than `marginMs` of this one is left, so a test that
 * counts against the per-minute limit never straddles a window boundary (where admitting the
 * limit again is correct behaviour, not a bug).
 */
export async function awayFromMinuteEdge(marginMs = 8_000): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < marginMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

/** A unique user id per test, so Durable Object counts never leak between tests. */
export function freshUser(prefix = "u"): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Sends one request through the gateway. `logged()` waits for the response's waitUntil work
 * (the access-log write); call it after the body has been consumed.
 */
export async function gateway(input: string | Request, init: RequestInit = {}, vars: Vars = {}) {
  const request = typeof input === "string" ? new Request(new URL(input, "https://gateway.test"), init) : input;
  const ctx = createExecutionContext();
  const response = await app.fetch(request, { ...env, ...vars } as Env, ctx);
  return { response, logged: () => waitOnExecutionContext(ctx) };
}

/** Sends a request, reads its body as text and waits for its log row. */
export async function call(input: string | Request, init: RequestInit = {}, vars: Vars = {}) {
  const { response, logged } = await gateway(input, init, vars);
  const text = await response.text();
  await logged();
  return { response, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

export function userHeaders(user: string, extra: Record<string, string> = {}): Record<string, string> {
  return { "X-User-ID": user, "Content-Type": "application/json", ...extra };
}

export function chatBody(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model: "test-model", messages: [{ role: "user", content: "hi" }], ...extra });
}

/** Replaces the origin: every fetch the Worker makes goes to `handler`. Returns the spy. */
export function mockOrigin(handler: (request: Request) => Response | Promise<Response>) {
  return vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => handler(new Request(input, init)));
}

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

/** A `requests` row as D1 returns it: the record plus its id, with the stream flag as 0/1. */
export type LogRow = Omit<AccessRecord, "stream"> & { id: number; stream: number };

export async function logRows(where = "1 = 1", ...params: unknown[]): Promise<LogRow[]> {
  const { results } = await env.DB.prepare(`SELECT * FROM requests WHERE ${where} ORDER BY id`).bind(...params).all<LogRow>();
  return results;
}

export async function rowFor(response: Response): Promise<LogRow> {
  const rows = await logRows("request_id = ?1", response.headers.get("X-Request-ID"));
  if (rows.length !== 1) throw new Error(`expected one log row, found ${rows.length}`);
  return rows[0];
}

/**
 * Strangers' requests (no verified identity) as counted in `stranger_counts`, summed over every
 * minute, keyed `"<status> <error_class>"`. Tests flush at once (`STRANGER_FLUSH_MS=0` in
 * vitest.config.ts), so a request's count is there once its `logged()` has resolved.
 */
export async function strangerCounts(): Promise<Record<string, number>> {
  const { results } = await env.DB.prepare(
    "SELECT error_class, status, SUM(requests) AS n FROM stranger_counts GROUP BY error_class, status",
  ).all<{ error_class: string; status: number; n: number }>();
  return Object.fromEntries(results.map((r) => [`${r.status} ${r.error_class}`, r.n]));
}

/** Empties the access log and the strangers' counts. */
export async function clearLog(): Promise<void> {
  await env.DB.batch([env.DB.prepare("DELETE FROM requests"), env.DB.prepare("DELETE FROM stranger_counts")]);
}

/** Counts how many of `responses` have each status. */
export function statusCounts(responses: Response[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const r of responses) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}
