/**
 * @module types
 * The Hono context type shared by every middleware and handler: bindings come from the
 * `wrangler types`-generated `Env`, per-request state is declared once here.
 */
import type { GatewayConfig } from "./config";
import type { AccessRecord } from "./lib/accessLog";
import type { OriginPoolVariables } from "./middleware/originPool";

/** What the request-validation stage learned, for the stages after it. */
export interface ValidatedRequest {
  /** The user id that is logged and shown to the origin. */
  userId: string;
  /** The Durable Object name this request is counted under. */
  limiterKey: string;
  /** The body to forward (possibly rewritten to ask for stream usage), or null. */
  body: Uint8Array | null;
  /** True when the gateway added `stream_options.include_usage` and must hide the usage chunk. */
  hideUsageChunk: boolean;
}

export type GatewayVariables = {
  requestId: string;
  config: GatewayConfig;
  /** The access-log row under construction; every stage may add to it. */
  record: AccessRecord;
  validated: ValidatedRequest;
  /** Header the origin receives for auth, chosen by AUTH_MODE. */
  upstreamAuth: { name: string; value: string } | null;
  /** Resolves when the response body has been fully sent (streams finish after the handler). */
  bodyDone: Promise<void>;
} & OriginPoolVariables;

export type AppEnv = { Bindings: Env; Variables: GatewayVariables };
