/**
 * @module index
 * organized-gateway: routes and the one error boundary. Each `/v1/<endpoint>` request passes
 *
 *   accessLog → loadConfig → identifyUser → readBody → rateLimit → originCredential → proxyHandler
 *
 * accessLog (request id; writes the one log row at the end), loadConfig (vars and secrets),
 * identifyUser (`X-User-ID` and `X-User-Key`: before the limiter, so a forger spends no quota),
 * readBody (size limit, JSON `model`/`stream`), rateLimit (the user's Durable Object),
 * originCredential (what the origin receives as auth), proxyHandler (the origin's answer).
 * Every error ends in `errorBoundary.ts`.
 */
import { Hono } from "hono";
import { handleError, handleNotFound } from "./errorBoundary";
import { proxyHandler } from "./handlers/proxyHandler";
import { accessLog } from "./middleware/accessLog";
import { identifyUser } from "./middleware/identifyUser";
import { loadConfig } from "./middleware/loadConfig";
import { originCredential } from "./middleware/originCredential";
import { rateLimit } from "./middleware/rateLimit";
import { readBody } from "./middleware/readBody";
import type { AppEnv } from "./types";

export { RateLimiter } from "./limiter/RateLimiter";

const app = new Hono<AppEnv>();

app.use("*", accessLog());
app.get("/health", (c) => c.json({ status: "ok", gateway: "organized-gateway" }));
// `{.+}` spans slashes and needs one character at least: "/v1" and "/v1/" are not endpoints.
app.all("/v1/:endpoint{.+}", loadConfig(), identifyUser(), readBody(), rateLimit(), originCredential(), proxyHandler);

app.notFound(handleNotFound);
app.onError(handleError);

export default app;
