/**
 * @module index
 * organized-gateway: routes and the one error boundary. Each `/v1/<endpoint>` request passes
 *
 *   accessLog → loadConfig → eventControls → identifyUser → maintenanceGate → readBody
 *     → bodyControls → rateLimit → originCredential → originPool → proxyHandler
 *
 * accessLog (request id; writes the one log row at the end), loadConfig (vars and secrets),
 * eventControls (the facilitator's controls, cached per isolate),
 * identifyUser (`X-User-ID` and `X-User-Key`: before the limiter, so a forger spends no quota),
 * maintenanceGate (503 while the facilitator has paused the gateway),
 * readBody (size limit, JSON `model`/`stream`), bodyControls (model allow-list, max_tokens cap),
 * rateLimit (the user's Durable Object: limit, tier, key generation, token budget),
 * originCredential (what the origin receives as auth), originPool (which origin, and the origin
 * gate's slot when ORIGIN_MAX_CONCURRENCY is set), proxyHandler (the origin's answer).
 * Every error ends in `errorBoundary.ts`. The admin API (`/admin/*`, only with ADMIN_TOKEN) runs
 * before the access log: admin calls are not attendee rows.
 */
import { Hono } from "hono";
import { adminApi } from "./admin";
import { handleError, handleNotFound } from "./errorBoundary";
import { healthHandler } from "./handlers/healthHandler";
import { proxyHandler } from "./handlers/proxyHandler";
import { accessLog } from "./middleware/accessLog";
import { bodyControls } from "./middleware/bodyControls";
import { eventControls, maintenanceGate } from "./middleware/eventControls";
import { identifyUser } from "./middleware/identifyUser";
import { loadConfig } from "./middleware/loadConfig";
import { originCredential } from "./middleware/originCredential";
import { originPool } from "./middleware/originPool";
import { rateLimit } from "./middleware/rateLimit";
import { readBody } from "./middleware/readBody";
import type { AppEnv } from "./types";

export { RateLimiter } from "./limiter/RateLimiter";
export { OriginGate } from "./gate/OriginGate";
export { EventControls } from "./controls/EventControls";

const app = new Hono<AppEnv>();

app.use("/admin/*", adminApi());
app.use("*", accessLog());
app.get("/health", healthHandler);
// `{.+}` spans slashes and needs one character at least: "/v1" and "/v1/" are not endpoints.
app.all("/v1/:endpoint{.+}", loadConfig(), eventControls(), identifyUser(), maintenanceGate(), readBody(), bodyControls(), rateLimit(), originCredential(), originPool(), proxyHandler);

app.notFound(handleNotFound);
app.onError(handleError);

export default app;
