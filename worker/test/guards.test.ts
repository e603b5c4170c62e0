/**
 * The checks that guard the gateway's promises must be able to fail. Each check below runs once
 * against the gateway (it holds) and once against a deliberately broken variant (it catches it).
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { awayFromMinuteEdge, call, chatBody, freshUser, jsonResponse, logRows, mockOrigin, userHeaders } from "./helpers";

beforeEach(() => awayFromMinuteEdge(), 15_000);
afterEach(() => vi.restoreAllMocks());

/** The exactness check: of `n` simultaneous attempts, exactly `limit` are admitted. */
async function admittedOf(n: number, attempt: () => Promise<boolean>): Promise<number> {
  const results = await Promise.all(Array.from({ length: n }, attempt));
  return results.filter(Boolean).length;
}

/** The log check: every response has exactly one row with its X-Request-ID. */
async function rowsPerResponse(responses: Response[]): Promise<number[]> {
  return Promise.all(
    responses.map(async (r) => (await logRows("request_id = ?1", r.headers.get("X-Request-ID"))).length),
  );
}

describe("the limit-exactness check", () => {
  it("holds for the Durable Object limiter", async () => {
    mockOrigin(() => jsonResponse({}));
    const user = freshUser();
    const admitted = await admittedOf(200, async () => {
      const { response } = await call("/v1/models", { headers: { "X-User-ID": user } });
      return response.status === 200;
    });
    expect(admitted).toBe(50);
  });

  it("catches the manual's KV read-then-write counter over-admitting", async () => {
    const key = `rate:${freshUser()}:${Math.floor(Date.now() / 60_000)}`;
    const kvCounter = async () => {
      const count = Number((await env.GATEWAY_KV.get(key)) ?? "0");
      if (count >= 50) return false;
      await env.GATEWAY_KV.put(key, String(count + 1), { expirationTtl: 120 });
      return true;
    };
    expect(await admittedOf(200, kvCounter)).toBeGreaterThan(50);
  });
});

describe("the one-row-per-request check", () => {
  it("holds for the gateway", async () => {
    mockOrigin(() => jsonResponse({}));
    const user = freshUser();
    const responses = [
      (await call("/v1/models", { headers: { "X-User-ID": user } })).response,
      (await call("/v1/models", { headers: { "X-User-ID": user } }, { AUTH_MODE: "codex" })).response, // 401, identified
      (await call("/v1/chat/completions", { method: "POST", headers: userHeaders(user), body: "{" })).response,
    ];
    expect(await rowsPerResponse(responses)).toEqual([1, 1, 1]);
  });

  it("catches a gateway whose log writes are silently lost", async () => {
    mockOrigin(() => jsonResponse({}));
    const lossyDb = {
      prepare: () => ({ bind: () => ({ run: async () => ({ success: true }) }) }),
    };
    const { response } = await call(
      "/v1/chat/completions",
      { method: "POST", headers: userHeaders(freshUser()), body: chatBody() },
      { DB: lossyDb } as never,
    );
    expect(response.status).toBe(200);
    expect(await rowsPerResponse([response])).toEqual([0]);
  });
});
