/**
 * @module upstream/pool
 * Sends one request to the pool: takes a slot on the best origin (from the gate, or this
 * isolate's memory without one), calls it, and when the connection was refused before anything
 * was sent, tries once more on another origin. It publishes, for the access log, which origin the
 * request went to (its index in `OPENCLAW_URL`, never the URL, which may carry credentials) and
 * how long it waited at the gate.
 */
import type { Outcome } from "../gate/health";
import { GateRefusal, type OriginPicker, type OriginSlot } from "../gate/picker";
import { fetchUpstream, UpstreamFault } from "./fetchUpstream";
import { upstreamUrl } from "./headers";

/** What a failed call says about the origin's health. */
function outcomeOf(error: unknown): Outcome {
  if (error instanceof UpstreamFault && error.kind === "client_left") return "abandoned";
  return "unreachable";
}

export class PoolSession {
  /** The slot held once the origin has answered; given back by {@link finish}. */
  private slot: OriginSlot | null = null;
  private lastOrigin: number | null = null;
  private waited: number | null = null;

  /**
   * @param picker where slots come from
   * @param origins the pool's base URLs
   * @param background keeps a promise alive after the response (`executionCtx.waitUntil`)
   * @param signal aborts when the client leaves
   */
  constructor(
    private readonly picker: OriginPicker,
    private readonly origins: readonly string[],
    private readonly background: (promise: Promise<unknown>) => void,
    private readonly signal?: AbortSignal,
  ) {}

  /** Index of the origin the request was sent to last, or null before (or without) one. */
  get origin(): number | null {
    return this.lastOrigin;
  }

  /** Time waited at the gate (summed over a retry); null without a gate. */
  get gateWaitMs(): number | null {
    return this.waited;
  }

  /** True while a slot is held (the answer is still being sent). */
  get holdsSlot(): boolean {
    return this.slot !== null;
  }

  /**
   * @param pathname the request's path, appended to the chosen origin's base URL
   * @param search the request's query string (with its `?`, or empty)
   * @param init method, headers and body (a buffer, so it can be sent twice)
   * @param timeoutMs time allowed until the origin's response headers
   * @throws GateRefusal (503 origin_busy, 502 all down), UpstreamFault (502/504) or a 502
   *   `gate_unavailable` when the gate cannot be asked
   */
  async send(pathname: string, search: string, init: RequestInit, timeoutMs: number): Promise<Response> {
    const tried: number[] = [];
    for (;;) {
      const slot = await this.take(tried);
      try {
        const response = await fetchUpstream(upstreamUrl(this.origins[slot.origin], pathname, search), init, timeoutMs, this.signal);
        this.slot = slot;
        return response;
      } catch (error) {
        this.background(slot.release(outcomeOf(error)));
        const refused = error instanceof UpstreamFault && error.kind === "refused";
        if (!refused || tried.length > 0 || this.origins.length < 2) throw error;
        tried.push(slot.origin);
      }
    }
  }

  /** Gives the slot back once the answer has ended (or failed after the headers). */
  async finish(): Promise<void> {
    const slot = this.slot;
    this.slot = null;
    await slot?.release("ok");
  }

  private async take(exclude: number[]): Promise<OriginSlot> {
    try {
      const slot = await this.picker.acquire(exclude);
      this.noteWait(slot.waitedMs);
      this.lastOrigin = slot.origin;
      return slot;
    } catch (error) {
      if (error instanceof GateRefusal) this.noteWait(error.waitedMs);
      throw error;
    }
  }

  private noteWait(waitedMs: number): void {
    if (this.picker.gated) this.waited = (this.waited ?? 0) + waitedMs;
  }
}
