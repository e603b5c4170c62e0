/**
 * @module index
 * organized-gateway: routes and the one error boundary. Each `/v1/*` request passes
 * accessLog → validateRequest → rateLimit → upstreamAuth → originPool → proxyHandler. The admin
 * API (`/admin/*`, only when ADMIN_TOKEN is set) comes before the access log: its requests are
 * not attendee rows.
 */
import { Hono, type Context } from "hono";
import { errorResponse, GatewayError, notFound } from "./errors";
import { proxyHandler } from "./handlers/proxyHandler";
import { adminApi } from "./admin";
import { accessLog } from "./middleware/accessLog";
import { originPool } from "./middleware/originPool";
import { rateLimit } from "./middleware/rateLimit";
import { upstreamAuth } from "./middleware/upstreamAuth";
import { validateRequest } from "./middleware/validateRequest";
import type { AppEnv } from "./types";

export { RateLimiter } from "./limiter/RateLimiter";
export { OriginGate } from "./gate/OriginGate";

const app = new Hono<AppEnv>();

app.use("/admin/*", adminApi());
app.use("*", accessLog());
app.get("/health", (c) => c.json({ status: "ok", gateway: "organized-gateway" }));
app.all("/v1/*", validateRequest(), rateLimit(), upstreamAuth(), originPool(), proxyHandler);

/** Answers a GatewayError and notes its class on the access-log record. */
function answer(c: Context<AppEnv>, error: GatewayError): Response {
  if (c.var.record) c.var.record.error_class = error.errorClass;
  return errorResponse(error.status, error.message, error.headers);
}

// Returned, not thrown: Hono calls notFound outside the middleware's error boundary.
app.notFound((c) => answer(c, notFound()));

app.onError((error, c) => {
  if (error instanceof GatewayError) return answer(c, error);
  console.error("unhandled error", error);
  return answer(c, new GatewayError(500, "Internal gateway error; the facilitator can find it by X-Request-ID.", "internal"));
});

export default app;
