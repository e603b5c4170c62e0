/**
 * @module errors
 * Every error the gateway answers with is a {@link GatewayError}: a status, a one-sentence message
 * for the client and an `errorClass` for the access log. `app.onError` turns it into the single
 * JSON shape `{"error": "<message>"}` through {@link errorResponse}.
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export class GatewayError extends HTTPException {
  readonly errorClass: string;
  readonly headers: Record<string, string>;

  /**
   * @param status HTTP status sent to the client
   * @param message one sentence that says what happened and what to do
   * @param errorClass short machine name stored in `requests.error_class`
   * @param headers extra response headers (e.g. `Retry-After`)
   */
  constructor(
    status: ContentfulStatusCode,
    message: string,
    errorClass: string,
    headers: Record<string, string> = {},
  ) {
    super(status, { message });
    this.name = "GatewayError";
    this.errorClass = errorClass;
    this.headers = headers;
  }
}

/** The one place a JSON error body is built. */
export function errorResponse(
  status: number,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify({ error: message }), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", ...headers },
  });
}

/** The 404 for any path outside `/v1/<something>` and `/health`. */
export function notFound(): GatewayError {
  return new GatewayError(404, "Not found: the gateway serves /v1/* and /health.", "not_found");
}

/**
 * The client closed its connection before the answer was complete. 499 is nginx's convention for
 * this; the client never sees it, the access log does (instead of the 200 it would have got).
 * @param when what the gateway was doing, e.g. "before the origin answered"
 */
export function clientClosed(when: string): GatewayError {
  return new GatewayError(499 as ContentfulStatusCode, `The client closed the connection ${when}.`, "client_closed");
}
