/**
 * @module config
 * Reads the Worker's vars and secrets once per request into typed values with the defaults fixed
 * in the README ("Configuration"). A value that does not parse is a misconfiguration: it answers 500 with the name of
 * the setting at fault rather than silently running with a different limit.
 */
import { GatewayError } from "./errors";

export type AuthMode = "openai" | "codex";

export interface GatewayConfig {
  upstreamUrl: string;
  authMode: AuthMode;
  limitPerMinute: number;
  allowAnonymous: boolean;
  userKeySecret: string | null;
  ipHashSalt: string | null;
  upstreamTimeoutMs: number;
  maxBodyBytes: number;
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
  const upstreamUrl = (env.OPENCLAW_URL ?? "").trim();
  if (!upstreamUrl) throw misconfigured("OPENCLAW_URL", "is not set");
  if (!URL.canParse(upstreamUrl)) throw misconfigured("OPENCLAW_URL", "is not a URL");
  const authMode = (env.AUTH_MODE ?? "openai").trim().toLowerCase() || "openai";
  if (authMode !== "openai" && authMode !== "codex") {
    throw misconfigured("AUTH_MODE", `must be "openai" or "codex", got "${env.AUTH_MODE}"`);
  }
  return {
    upstreamUrl,
    authMode,
    limitPerMinute: nonNegativeInt("RATE_LIMIT_PER_MINUTE", env.RATE_LIMIT_PER_MINUTE, 50),
    allowAnonymous: flag("ALLOW_ANONYMOUS", env.ALLOW_ANONYMOUS),
    userKeySecret: env.USER_KEY_SECRET || null,
    ipHashSalt: env.IP_HASH_SALT || null,
    upstreamTimeoutMs: nonNegativeInt("UPSTREAM_TIMEOUT_MS", env.UPSTREAM_TIMEOUT_MS, 120_000),
    maxBodyBytes: nonNegativeInt("MAX_BODY_BYTES", env.MAX_BODY_BYTES, 4_194_304),
  };
}
