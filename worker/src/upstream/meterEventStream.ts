/**
 * @module meterEventStream
 * Passes a server-sent event stream to the client event by event, as soon as each event is
 * complete, while learning its token usage. Only a short regular-expression test touches every
 * event; JSON is parsed only for a candidate usage-only chunk and for the last few events, so
 * long streams cost no extra CPU. Pull-based, so a slow client slows the read from the origin.
 *
 * When the origin goes silent for the idle timeout, or breaks off, the client gets an
 * OpenAI-style error event (`data: {"error": {...}}`) and then the end of the stream, rather than
 * a stream that hangs or a connection reset; the origin's body is cancelled either way.
 */
import { failureOf, nextChunk, silenceMessage, type RelayFailure, type RelayOutcome } from "./relay";
import { totalTokensInEvent, totalTokensOf } from "./usage";

/** One event ends at a blank line (SSE allows CRLF, LF or CR line ends). */
const EVENT_END = /\r\n\r\n|\n\n|\r\r/;
/** Cheap pre-test for the usage-only chunk that `include_usage` adds: `"choices": []`. */
const EMPTY_CHOICES = /"choices"\s*:\s*\[\s*\]/;
/** How many of the last events are searched for usage at the end. */
const TAIL_EVENTS = 4;

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

/** The JSON of an event's `data:` lines, or undefined when there is none or it is not JSON. */
function eventData(event: string): unknown {
  const data = event
    .split(/\r\n|\r|\n/)
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).trimStart())
    .join("\n");
  if (!data || data === "[DONE]") return undefined;
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

/**
 * True only for the chunk `include_usage` adds: `choices` is an empty array AND `usage` is an
 * object. Other events with empty `choices` (Azure's `prompt_filter_results`, `usage: null`
 * chunks) are the client's and pass.
 */
export function isUsageOnlyChunk(event: string): boolean {
  if (!EMPTY_CHOICES.test(event) || !event.includes('"usage"')) return false;
  const data = eventData(event) as { choices?: unknown; usage?: unknown } | undefined;
  if (!data || typeof data !== "object") return false;
  const { choices, usage } = data;
  return Array.isArray(choices) && choices.length === 0 && usage !== null && typeof usage === "object";
}

const ERROR_MESSAGES: Record<Exclude<RelayFailure, "client_closed">, (idleMs: number) => string> = {
  upstream_idle_timeout: silenceMessage,
  upstream_stream_error: () => "The origin broke off the stream before the end.",
};

/** The error event the client gets when the origin fails mid-stream, shaped as OpenAI's. */
export function errorEvent(failure: Exclude<RelayFailure, "client_closed">, idleMs: number): string {
  const error = { message: ERROR_MESSAGES[failure](idleMs), type: "server_error", param: null, code: failure };
  return `data: ${JSON.stringify({ error })}\n\n`;
}

/**
 * @param upstream the origin's event-stream body
 * @param options `hideUsageChunk`: drop the usage-only chunk (the gateway asked for it, not the
 *   client); `idleMs`: the longest silence from the origin (0: no limit)
 * @returns the stream for the client and a promise of how it ended
 */
export function meterEventStream(
  upstream: ReadableStream<Uint8Array>,
  options: { hideUsageChunk: boolean; idleMs: number },
): { stream: ReadableStream<Uint8Array>; outcome: Promise<RelayOutcome> } {
  const reader = upstream.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const tail: string[] = [];
  let buffer = "";
  let tokens: number | null = null;
  let cancelled = false;
  let settle!: (outcome: RelayOutcome) => void;
  const outcome = new Promise<RelayOutcome>((resolve) => (settle = resolve));

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
    if (options.hideUsageChunk && isUsageOnlyChunk(event)) {
      tokens = totalTokensOf(eventData(event)) ?? tokens;
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
          const { done, value } = await nextChunk(reader, options.idleMs);
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
        if (cancelled) return; // the client left: the read failed because the gateway cancelled it
        const failure = failureOf(error);
        if (failure === "upstream_stream_error") console.error("upstream stream failed", String(error));
        reader.cancel(String(error)).catch(() => {});
        // A partial event is dropped: the error event must start on its own.
        controller.enqueue(encoder.encode(errorEvent(failure, options.idleMs)));
        controller.close();
        settle({ tokens: tokens ?? tokensFromTail(), failure });
      }
    },
    async cancel(reason) {
      cancelled = true;
      settle({ tokens: tokens ?? tokensFromTail(), failure: "client_closed" });
      await reader.cancel(reason).catch(() => {});
    },
  });
  return { stream, outcome };
}
