/**
 * @module accessLog
 * The `requests` row: its shape, the one pure function that computes it from what the stages
 * learned ({@link accessRecordOf}), and the one INSERT that writes it (bound `?` parameters only).
 */
import type { RelayFailure } from "../upstream/relay";

export interface AccessRecord {
  request_id: string;
  user_id: string;
  method: string;
  endpoint: string;
  model: string | null;
  status: number;
  latency_ms: number;
  ttfb_ms: number | null;
  tokens_est: number | null;
  stream: boolean;
  error_class: string | null;
  ip_hash: string | null;
  created_at: string;
  /** Index (as text) in OPENCLAW_URL of the origin the request was sent to last; null if none. */
  origin: string | null;
  /** Time spent waiting at the origin gate; null without a gate (ORIGIN_MAX_CONCURRENCY unset). */
  gate_wait_ms: number | null;
}

/**
 * What the stages learned about one request, gathered by the access-log middleware once the
 * response (stream included) has been sent. Each field comes from the one stage that sets it.
 */
export interface RequestFacts {
  requestId: string;
  method: string;
  path: string;
  /** When the access-log middleware saw the request arrive (epoch ms). */
  startedAt: number;
  /** When the last byte of the answer was sent, or the stream ended (epoch ms). */
  finishedAt: number;
  /** The status the client received (for an answer that ended early, see {@link FAILURE_STATUS}). */
  status: number;
  /** The verified identity the request is logged under (strangers get no row: `strangers.ts`). */
  userId: string;
  /** From the body stage, when it ran: the JSON body's `model` and `stream`. */
  body: { model: string | null; stream: boolean } | null;
  /** From the error boundary: the class of the GatewayError the request was answered with. */
  answeredErrorClass: string | null;
  /** From the proxy: when the origin's response headers arrived (epoch ms), or null. */
  originHeadersAt: number | null;
  /** From the proxy: `usage.total_tokens` of the relayed answer, or null. */
  tokens: number | null;
  /** From the proxy: why the relayed answer ended early, or null. */
  relayFailure: RelayFailure | null;
  /** The keyed hash of the client IP, or null without `IP_HASH_SALT`. */
  ipHash: string | null;
  /** From the origin pool: index of the origin the request was sent to last, or null. */
  originIndex: number | null;
  /** From the origin pool: time waited at the gate, or null without a gate. */
  gateWaitMs: number | null;
}

/**
 * The status logged for an answer that ended early, whatever status its headers carried: the
 * gateway's verdict on what the client got (499: it left; 504: the origin went silent; 502: the
 * origin broke off), so dashboards counting statuses see these faults.
 */
export const FAILURE_STATUS: Record<RelayFailure, number> = {
  client_closed: 499,
  upstream_idle_timeout: 504,
  upstream_stream_error: 502,
};

/** Error class for a status no stage classified: an origin 4xx/5xx passed through. */
export function errorClassOfStatus(status: number): string | null {
  if (status >= 500) return "upstream_error";
  if (status >= 400) return "upstream_client_error";
  return null;
}

/**
 * The `requests` row for one request; every column is computed here and nowhere else.
 * `error_class`: the gateway's own error when it answered with one, else how the relay ended
 * early, else the class of the origin's status; `status` is the client's, or the verdict on an
 * answer that ended early. `ttfb_ms` and `latency_ms` count from the request's start, as the
 * schema says.
 */
export function accessRecordOf(facts: RequestFacts): AccessRecord {
  return {
    request_id: facts.requestId,
    user_id: facts.userId,
    method: facts.method,
    endpoint: facts.path.slice(0, 256),
    model: facts.body?.model ?? null,
    status: facts.relayFailure ? FAILURE_STATUS[facts.relayFailure] : facts.status,
    latency_ms: facts.finishedAt - facts.startedAt,
    ttfb_ms: facts.originHeadersAt === null ? null : facts.originHeadersAt - facts.startedAt,
    tokens_est: facts.tokens,
    stream: facts.body?.stream ?? false,
    error_class: facts.answeredErrorClass ?? facts.relayFailure ?? errorClassOfStatus(facts.status),
    ip_hash: facts.ipHash,
    created_at: sqliteTime(facts.startedAt),
    origin: facts.originIndex === null ? null : String(facts.originIndex),
    gate_wait_ms: facts.gateWaitMs,
  };
}

/**
 * `created_at`'s format: UTC `YYYY-MM-DD HH:MM:SS.sss`, SQLite's own `datetime()` text plus
 * milliseconds, so `created_at > datetime('now','-5 minutes')` (the operator's manual's queries)
 * compares like with like. An ISO `…T…Z` string sorts after every `… …` one of the same day.
 */
export function sqliteTime(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 23).replace("T", " ");
}

/** Writes one row to the access log. */
export async function insertAccessRecord(db: D1Database, r: AccessRecord): Promise<void> {
  await db
    .prepare(
      `INSERT INTO requests (request_id, user_id, method, endpoint, model, status, latency_ms, ttfb_ms,
         tokens_est, stream, error_class, ip_hash, created_at, origin, gate_wait_ms)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)`,
    )
    .bind(
      r.request_id,
      r.user_id,
      r.method,
      r.endpoint,
      r.model,
      r.status,
      r.latency_ms,
      r.ttfb_ms,
      r.tokens_est,
      r.stream ? 1 : 0,
      r.error_class,
      r.ip_hash,
      r.created_at,
      r.origin,
      r.gate_wait_ms,
    )
    .run();
}
