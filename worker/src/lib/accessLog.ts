/**
 * @module accessLog
 * The `requests` row: its shape, and the one INSERT that writes it (bound `?` parameters only).
 */
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
  /** Index of the pool origin that served the request (as text), null when none was tried. */
  origin: string | null;
  /** Time spent waiting at the origin gate; null when no gate is configured. */
  gate_wait_ms: number | null;
}

/** A fresh record for a request that has just arrived. */
export function newAccessRecord(requestId: string, method: string, endpoint: string, startedAt: number): AccessRecord {
  return {
    request_id: requestId,
    user_id: "~unknown",
    method,
    endpoint: endpoint.slice(0, 256),
    model: null,
    status: 0,
    latency_ms: 0,
    ttfb_ms: null,
    tokens_est: null,
    stream: false,
    error_class: null,
    ip_hash: null,
    created_at: new Date(startedAt).toISOString(),
    origin: null,
    gate_wait_ms: null,
  };
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
