/**
 * @module gate/picker
 * What the request path needs from admission control, whichever kind is in force: a slot on one
 * origin of the pool, given back with how the request went. {@link GateRefusal} is the one error
 * shape for "not admitted" (503 `origin_busy`, or 502 when every origin is out).
 */
import { GatewayError } from "../errors";
import type { Outcome } from "./health";

export interface OriginSlot {
  /** Index of the origin in the pool. */
  origin: number;
  /** Time spent waiting at the gate for this slot. */
  waitedMs: number;
  /** Gives the slot back; safe to call more than once. */
  release(outcome: Outcome): Promise<void>;
}

export interface OriginPicker {
  /** True when requests queue at a gate (the access log then records the wait). */
  readonly gated: boolean;
  /**
   * @param exclude origins this request must not use
   * @throws GateRefusal when no slot can be had
   */
  acquire(exclude: number[]): Promise<OriginSlot>;
}

/** Not admitted: carries how long the request waited, for the access log. */
export class GateRefusal extends GatewayError {
  readonly waitedMs: number;

  constructor(kind: "busy" | "down", retryAfterS: number, waitedMs: number) {
    const headers = { "Retry-After": String(retryAfterS) };
    if (kind === "busy") {
      super(503, `The origin is busy; retry in ${retryAfterS} s.`, "origin_busy", headers);
    } else {
      super(502, "No origin is reachable: every origin of the pool failed and is cooling down.", "upstream_unreachable", headers);
    }
    this.waitedMs = waitedMs;
  }
}
