/**
 * @module controls/shape
 * The event's controls as the admin API shows them (`GET /admin/controls`, README: "Event controls and the admin API"), the
 * per-user key and tier directory that rides along inside the Worker, and the pure validation of
 * a `PATCH`: every field is checked before anything changes, and a bad one answers 400 naming it.
 */
import { GatewayError } from "../errors";
import { sqliteTime } from "../lib/accessLog";

export interface Maintenance {
  on: boolean;
  message: string | null;
}

export interface Budget {
  tokens: number;
  per: "hour" | "event";
}

/** The controls exactly as `GET /admin/controls` answers them. */
export interface Controls {
  maintenance: Maintenance;
  /** null: RATE_LIMIT_PER_MINUTE applies. */
  limit_per_minute: number | null;
  /** null: any model. */
  models: string[] | null;
  /** null: no cap on max_tokens / max_completion_tokens. */
  max_tokens: number | null;
  budget: Budget | null;
  /** 'YYYY-MM-DD HH:MM:SS.sss' UTC of the last change, or null. */
  updated_at: string | null;
}

/** What the admin API has set for one user (the user's RateLimiter object is the authority). */
export interface UserEntry {
  /** Admin tier, or absent: KV `tier:{user}` or the global limit applies. */
  limit?: number;
  /** Key generation (absent: 0, the original key: HMAC of the user id). */
  generation?: number;
  revoked?: boolean;
}

/**
 * What each request reads (through the per-isolate cache): the controls, when the budget was
 * switched on (its tokens count from then on; earlier ones come from the access log), and the
 * users with an admin tier, a reissued key or a revocation. The directory lets `identifyUser`
 * verify a reissued key, and `rateLimit` skip KV, with no extra Durable Object call.
 */
export interface ControlsSnapshot {
  controls: Controls;
  /** Epoch ms when the current budget was set; null without a budget. */
  budgetSince: number | null;
  users: Record<string, UserEntry>;
}

export type ControlKey = "maintenance" | "limit_per_minute" | "models" | "max_tokens" | "budget";
export const CONTROL_KEYS: readonly ControlKey[] = ["maintenance", "limit_per_minute", "models", "max_tokens", "budget"];

export const NO_CONTROLS: Controls = {
  maintenance: { on: false, message: null },
  limit_per_minute: null,
  models: null,
  max_tokens: null,
  budget: null,
  updated_at: null,
};

export const EMPTY_SNAPSHOT: ControlsSnapshot = { controls: NO_CONTROLS, budgetSince: null, users: {} };

/** The default sentence of a 503 `maintenance` when the facilitator gave none. */
export const DEFAULT_MAINTENANCE_MESSAGE = "The gateway is paused for maintenance by the facilitator; try again in a minute.";

const MAX_MESSAGE = 500;
const MAX_MODELS = 100;
const MAX_MODEL_NAME = 128;
const MAX_INT = 1_000_000_000;

function invalid(field: string, should: string): GatewayError {
  return new GatewayError(400, `${field} ${should}.`, "invalid_control");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function wholeNumber(value: unknown, min: number): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= min && value <= MAX_INT;
}

function maintenanceOf(value: unknown): Maintenance {
  if (value === null) return { on: false, message: null };
  if (!isObject(value)) throw invalid("maintenance", 'must be null or {"on": true|false, "message": "…"}');
  for (const key of Object.keys(value)) {
    if (key !== "on" && key !== "message") throw invalid(`maintenance.${key}`, "is not a field of maintenance");
  }
  if (typeof value.on !== "boolean") throw invalid("maintenance.on", "must be true or false");
  const message = value.message ?? null;
  if (message !== null && (typeof message !== "string" || message.length > MAX_MESSAGE)) {
    throw invalid("maintenance.message", `must be null or a text of at most ${MAX_MESSAGE} characters`);
  }
  return { on: value.on, message: value.on && message !== null && message.trim() !== "" ? message : null };
}

function modelsOf(value: unknown): string[] | null {
  if (value === null) return null;
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_MODELS) {
    throw invalid("models", `must be null or a list of 1 to ${MAX_MODELS} model names`);
  }
  if (!value.every((m) => typeof m === "string" && m.trim() !== "" && m.length <= MAX_MODEL_NAME)) {
    throw invalid("models", `must list model names of 1 to ${MAX_MODEL_NAME} characters`);
  }
  return [...new Set(value as string[])];
}

function budgetOf(value: unknown): Budget | null {
  if (value === null) return null;
  if (!isObject(value)) throw invalid("budget", 'must be null or {"tokens": N, "per": "hour"|"event"}');
  for (const key of Object.keys(value)) {
    if (key !== "tokens" && key !== "per") throw invalid(`budget.${key}`, "is not a field of budget");
  }
  if (!wholeNumber(value.tokens, 1)) throw invalid("budget.tokens", "must be a whole number >= 1");
  if (value.per !== "hour" && value.per !== "event") throw invalid("budget.per", 'must be "hour" or "event"');
  return { tokens: value.tokens, per: value.per };
}

/**
 * Validates a `PATCH /admin/controls` body into the changes it asks for.
 * @throws GatewayError 400 naming the first field at fault; nothing has changed then
 */
export function parseControlsPatch(body: unknown): Partial<Omit<Controls, "updated_at">> {
  if (!isObject(body)) throw invalid("The body", "must be a JSON object of controls to change");
  const changes: Partial<Omit<Controls, "updated_at">> = {};
  for (const [key, value] of Object.entries(body)) {
    switch (key) {
      case "maintenance":
        changes.maintenance = maintenanceOf(value);
        break;
      case "limit_per_minute":
        if (value !== null && !wholeNumber(value, 0)) throw invalid("limit_per_minute", "must be null or a whole number >= 0");
        changes.limit_per_minute = value as number | null;
        break;
      case "models":
        changes.models = modelsOf(value);
        break;
      case "max_tokens":
        if (value !== null && !wholeNumber(value, 1)) throw invalid("max_tokens", "must be null or a whole number >= 1");
        changes.max_tokens = value as number | null;
        break;
      case "budget":
        changes.budget = budgetOf(value);
        break;
      default:
        throw invalid(JSON.stringify(key).slice(0, 64), `is not a control (known: ${CONTROL_KEYS.join(", ")})`);
    }
  }
  return changes;
}

/**
 * Validates `PUT /admin/users/{user}/tier`'s body.
 * @throws GatewayError 400 naming `limit`
 */
export function parseTier(body: unknown): number {
  if (!isObject(body) || !wholeNumber(body.limit, 0)) throw invalid("limit", "must be a whole number >= 0 (0 blocks the user)");
  return body.limit;
}

/** 'YYYY-MM-DD HH:MM:SS.sss' in UTC: the text form control_events and updated_at use (created_at's). */
export const sqlTimestamp = sqliteTime;
