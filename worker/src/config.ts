/**
 * @module config
 * Reads the Worker's vars and secrets once per request into typed values with the defaults fixed
 * in the README ("Configuration"). A value that does not parse is a misconfiguration: it answers 500 with the name of
 * the setting at fault rather than silently running with a different limit.
 */
import { GatewayError } from "./errors";

export type AuthMode = "openai" | "codex";

export interface GatewayConfig {
  /** The origin pool: `OPENCLAW_URL` split at commas (one URL is a pool of one). */
  origins: string[];
  authMode: AuthMode;
  limitPerMinute: number;
  allowAnonymous: boolean;
  userKeySecret: string | null;
  ipHashSalt: string | null;
  upstreamTimeoutMs: number;
  /** After the origin's headers, the longest silence before the answer is ended (0: no limit). */
  upstreamIdleTimeoutMs: number;
  maxBodyBytes: number;
  /** Slots per origin (same order as `origins`), or null: no gate. */
  originMaxConcurrency: number[] | null;
  originQueueTimeoutMs: number;
  adminToken: string | null;
}

function misconfigured(name: string, why: string): GatewayError {
  return new GatewayError(500, `Gateway misconfigured: ${name} ${why}.`, "misconfigured");
}

function nonNegativeInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw misconfigured(name, `must be a whole number ≥ 0, got "${raw}"`);
  }
  return value;
}

function flag(name: string, raw: string | undefined): boolean {
  const value = (raw ?? "false").trim().toLowerCase();
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0" || value === "") return false;
  throw misconfigured(name, `must be true or false, got "${raw}"`);
}

/**
 * @param env the Worker's bindings
 * @throws GatewayError (500) naming the setting that is missing or malformed
 */
export function readConfig(env: Env): GatewayConfig {
  const origins = (env.OPENCLAW_URL ?? "").split(",").map((url) => url.trim()).filter(Boolean);
  if (origins.length === 0) throw misconfigured("OPENCLAW_URL", "is not set");
  if (!origins.every((url) => URL.canParse(url))) throw misconfigured("OPENCLAW_URL", "is not a URL (or a comma-separated list of URLs)");
  const authMode = (env.AUTH_MODE ?? "openai").trim().toLowerCase() || "openai";
  if (authMode !== "openai" && authMode !== "codex") {
    throw misconfigured("AUTH_MODE", `must be "openai" or "codex", got "${env.AUTH_MODE}"`);
  }
  return {
    origins,
    authMode,
    limitPerMinute: nonNegativeInt("RATE_LIMIT_PER_MINUTE", env.RATE_LIMIT_PER_MINUTE, 50),
    allowAnonymous: flag("ALLOW_ANONYMOUS", env.ALLOW_ANONYMOUS),
    userKeySecret: env.USER_KEY_SECRET || null,
    ipHashSalt: env.IP_HASH_SALT || null,
    upstreamTimeoutMs: nonNegativeInt("UPSTREAM_TIMEOUT_MS", env.UPSTREAM_TIMEOUT_MS, 120_000),
    upstreamIdleTimeoutMs: nonNegativeInt("UPSTREAM_IDLE_TIMEOUT_MS", env.UPSTREAM_IDLE_TIMEOUT_MS, 30_000),
    maxBodyBytes: nonNegativeInt("MAX_BODY_BYTES", env.MAX_BODY_BYTES, 4_194_304),
    originMaxConcurrency: perOrigin("ORIGIN_MAX_CONCURRENCY", env.ORIGIN_MAX_CONCURRENCY, origins.length),
    originQueueTimeoutMs: nonNegativeInt("ORIGIN_QUEUE_TIMEOUT_MS", env.ORIGIN_QUEUE_TIMEOUT_MS, 10_000),
    adminToken: env.ADMIN_TOKEN || null,
  };
}

/**
 * `ORIGIN_MAX_CONCURRENCY`: unset (no gate), one number for every origin, or one per origin.
 * @returns slots per origin, or null when unset
 */
function perOrigin(name: string, raw: string | undefined, origins: number): number[] | null {
  if (raw === undefined || raw.trim() === "") return null;
  const values = raw.split(",").map((part) => Number(part.trim()));
  if (!values.every((n) => Number.isSafeInteger(n) && n >= 1)) {
    throw misconfigured(name, `must be a whole number ≥ 1 or a comma-separated list of them, got "${raw}"`);
  }
  if (values.length === 1) return Array.from({ length: origins }, () => values[0]);
  if (values.length !== origins) {
    throw misconfigured(name, `lists ${values.length} values for ${origins} origins in OPENCLAW_URL`);
  }
  return values;
}
