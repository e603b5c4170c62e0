/**
 * @module relay
 * Reading the origin's body once its headers have arrived, with the idle timeout
 * (`UPSTREAM_IDLE_TIMEOUT_MS`): the longest silence allowed between two chunks. Three ends are
 * told apart — the origin went silent, the origin broke off, the client left — and in each the
 * origin's body is cancelled, so its connection (and the Mac mini's slot) is freed at once.
 */
import { clientClosed, GatewayError } from "../errors";
import { concatBytes } from "../lib/body";

/** Why an answer ended early: the access log's `error_class`. */
export type RelayFailure = "client_closed" | "upstream_stream_error" | "upstream_idle_timeout";

export interface RelayOutcome {
  tokens: number | null;
  /** Why the answer ended early, or null when it ended normally. */
  failure: RelayFailure | null;
}

/** Thrown by {@link nextChunk} when the origin sent nothing for the idle timeout. */
export class OriginSilent extends Error {
  constructor(readonly idleMs: number) {
    super(`origin silent for ${idleMs} ms`);
  }
}

/** Thrown by {@link nextChunk} when the client's signal aborted. */
export class ClientLeft extends Error {}

/** The message of an idle timeout, the same in a JSON error and a stream's error event. */
export function silenceMessage(idleMs: number): string {
  return `The origin sent nothing for ${idleMs} ms after it began answering; the answer is incomplete.`;
}

/**
 * The next chunk, or an error saying why there is none.
 * @param idleMs the longest wait (0: no limit)
 * @param signal aborts the wait when the client leaves
 * @throws OriginSilent, ClientLeft, or the origin's read error
 */
export async function nextChunk(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  idleMs: number,
  signal?: AbortSignal,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  if (signal?.aborted) throw new ClientLeft();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const limits = new Promise<never>((_resolve, reject) => {
    if (idleMs > 0) timer = setTimeout(() => reject(new OriginSilent(idleMs)), idleMs);
    onAbort = () => reject(new ClientLeft());
    signal?.addEventListener("abort", onAbort);
  });
  try {
    return await Promise.race([reader.read(), limits]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * Reads a whole (JSON) body from the origin.
 * @throws GatewayError 504 `upstream_idle_timeout`, 502 `upstream_body_error`, 499 `client_closed`
 */
export async function readWholeBody(body: ReadableStream<Uint8Array>, idleMs: number, signal?: AbortSignal): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await nextChunk(reader, idleMs, signal);
      if (done) break;
      chunks.push(value);
      total += value.byteLength;
    }
  } catch (error) {
    reader.cancel(String(error)).catch(() => {});
    if (error instanceof OriginSilent) throw new GatewayError(504, silenceMessage(idleMs), "upstream_idle_timeout");
    if (error instanceof ClientLeft) throw clientClosed("while the origin was answering");
    console.error("upstream body failed", String(error));
    throw new GatewayError(502, "The origin broke off its answer before the end.", "upstream_body_error");
  }
  return concatBytes(chunks, total);
}

/** The failure a read error stands for. */
export function failureOf(error: unknown): Exclude<RelayFailure, "client_closed"> {
  return error instanceof OriginSilent ? "upstream_idle_timeout" : "upstream_stream_error";
}

/**
 * Passes a body (neither JSON nor an event stream) through unchanged, with the idle timeout, and
 * says how it ended. On a fault the client's copy breaks off (there is no format to say why in).
 */
export function relayBody(
  upstream: ReadableStream<Uint8Array>,
  idleMs: number,
): { stream: ReadableStream<Uint8Array>; outcome: Promise<RelayOutcome> } {
  const reader = upstream.getReader();
  let settle!: (outcome: RelayOutcome) => void;
  const outcome = new Promise<RelayOutcome>((resolve) => (settle = resolve));
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await nextChunk(reader, idleMs);
        if (done) {
          controller.close();
          settle({ tokens: null, failure: null });
        } else {
          controller.enqueue(value);
        }
      } catch (error) {
        if (cancelled) return;
        reader.cancel(String(error)).catch(() => {});
        controller.error(error);
        settle({ tokens: null, failure: failureOf(error) });
      }
    },
    async cancel(reason) {
      cancelled = true;
      settle({ tokens: null, failure: "client_closed" });
      await reader.cancel(reason).catch(() => {});
    },
  });
  return { stream, outcome };
}
