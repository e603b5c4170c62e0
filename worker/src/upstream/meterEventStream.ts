/**
 * @module meterEventStream
 * Passes a server-sent event stream to the client event by event, as soon as each event is
 * complete, while learning its token usage. Only a short regular-expression test touches every
 * event; JSON is parsed only for the usage-only chunk being hidden and for the last few events, so
 * long streams cost no extra CPU. Pull-based, so a slow client slows the read from the origin.
 */
import { totalTokensInEvent } from "./usage";

/** One event ends at a blank line (SSE allows CRLF, LF or CR line ends). */
const EVENT_END = /\r\n\r\n|\n\n|\r\r/;
/** The usage-only chunk that `include_usage` adds: `"choices": []`. */
const USAGE_ONLY_CHUNK = /"choices"\s*:\s*\[\s*\]/;
/** How many of the last events are searched for usage at the end. */
const TAIL_EVENTS = 4;

/** Why a stream ended early. */
export type StreamFailure = "client_disconnected" | "upstream_stream_error";

export interface StreamOutcome {
  tokens: number | null;
  /** Why the stream ended early, or null when it ended normally. */
  failure: StreamFailure | null;
}

/** Splits complete events (each with its terminating blank line) from a trailing partial one. */
export function splitEvents(buffer: string): { events: string[]; rest: string } {
  const events: string[] = [];
  let rest = buffer;
  for (let match = EVENT_END.exec(rest); match; match = EVENT_END.exec(rest)) {
    const end = match.index + match[0].length;
    events.push(rest.slice(0, end));
    rest = rest.slice(end);
  }
  return { events, rest };
}

/**
 * @param upstream the origin's event-stream body
 * @param hideUsageChunk drop the usage-only chunk (the gateway asked for it, not the client)
 * @returns the stream for the client and a promise of how it ended
 */
export function meterEventStream(
  upstream: ReadableStream<Uint8Array>,
  hideUsageChunk: boolean,
): { stream: ReadableStream<Uint8Array>; outcome: Promise<StreamOutcome> } {
  const reader = upstream.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const tail: string[] = [];
  let buffer = "";
  let tokens: number | null = null;
  let settle!: (outcome: StreamOutcome) => void;
  const outcome = new Promise<StreamOutcome>((resolve) => (settle = resolve));

  const remember = (event: string) => {
    tail.push(event);
    if (tail.length > TAIL_EVENTS) tail.shift();
  };
  const tokensFromTail = (): number | null => {
    for (let i = tail.length - 1; i >= 0; i--) {
      const found = totalTokensInEvent(tail[i]);
      if (found !== null) return found;
    }
    return null;
  };
  /** The text to forward for one event ("" to hide it). */
  const forward = (event: string): string => {
    if (hideUsageChunk && USAGE_ONLY_CHUNK.test(event)) {
      tokens = totalTokensInEvent(event) ?? tokens;
      return "";
    }
    remember(event);
    return event;
  };

  const stream = new ReadableStream<Uint8Array>({
    // Reads until there is something to enqueue: a pull that enqueues nothing is not repeated.
    async pull(controller) {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) {
            buffer += decoder.decode();
            const last = buffer ? forward(buffer) : "";
            if (last) controller.enqueue(encoder.encode(last));
            controller.close();
            settle({ tokens: tokens ?? tokensFromTail(), failure: null });
            return;
          }
          const split = splitEvents(buffer + decoder.decode(value, { stream: true }));
          buffer = split.rest;
          const text = split.events.map(forward).join("");
          if (text) return controller.enqueue(encoder.encode(text));
        }
      } catch (error) {
        console.error("upstream stream failed", String(error));
        controller.error(error);
        settle({ tokens: tokens ?? tokensFromTail(), failure: "upstream_stream_error" });
      }
    },
    async cancel(reason) {
      settle({ tokens: tokens ?? tokensFromTail(), failure: "client_disconnected" });
      await reader.cancel(reason).catch(() => {});
    },
  });
  return { stream, outcome };
}
