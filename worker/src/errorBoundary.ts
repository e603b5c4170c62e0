/**
 * @module errorBoundary
 * The one place a request is answered with an error: `app.onError` and `app.notFound` both end in
 * {@link answerError}, which builds the JSON body through `errorResponse` and records which
 * {@link GatewayError} was answered, for the access log's `error_class`.
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { errorResponse, GatewayError, notFound } from "./errors";
import type { AppEnv } from "./types";

/** Set by the error boundary when the request was answered with an error. */
export type ErrorBoundaryVariables = {
  answeredError: GatewayError;
};

/** Answers a GatewayError and notes it for the access log. */
export function answerError(c: Context<AppEnv>, error: GatewayError): Response {
  c.set("answeredError", error);
  return errorResponse(error.status, error.message, error.headers);
}

/** `app.onError`: a GatewayError as it is; anything else is a 500 the logs can find by request id. */
export const handleError: ErrorHandler<AppEnv> = (error, c) => {
  if (error instanceof GatewayError) return answerError(c, error);
  console.error("unhandled error", error);
  return answerError(
    c,
    new GatewayError(500, "Internal gateway error; the facilitator can find it by X-Request-ID.", "internal"),
  );
};

/** `app.notFound`. Returned, not thrown: Hono calls it outside the middleware's error boundary. */
export const handleNotFound: NotFoundHandler<AppEnv> = (c) => answerError(c, notFound());
