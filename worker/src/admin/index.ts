/**
 * @module admin
 * The Worker's admin API under `/admin/`. It runs before the access log, so admin calls are not
 * attendee rows. Without ADMIN_TOKEN it does not exist: the request goes on down the normal
 * path and gets the same 404 (and log entry) as any unknown path. Every route is behind
 * {@link adminAuth}; routes are added in {@link adminRoutes}: the pool's status, the event's
 * controls (`controls.ts`) and the per-user directory, tiers and keys (`users.ts`), every change audited in
 * D1 `control_events` (`audit.ts`).
 */
import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { errorResponse, GatewayError } from "../errors";
import type { AppEnv } from "../types";
import { adminAuth } from "./auth";
import { getControls, patchControls } from "./controls";
import { statusHandler } from "./status";
import { deleteTier, listUsers, putTier, reissueKey, revokeKey } from "./users";

/** The admin routes, relative to `/admin`. */
function adminRoutes(): Hono<AppEnv> {
  const admin = new Hono<AppEnv>().basePath("/admin");
  admin.use("*", adminAuth());
  admin.get("/status", statusHandler);
  admin.get("/controls", getControls);
  admin.patch("/controls", patchControls);
  admin.get("/users", listUsers);
  admin.put("/users/:user/tier", putTier);
  admin.delete("/users/:user/tier", deleteTier);
  admin.post("/users/:user/reissue", reissueKey);
  admin.post("/users/:user/revoke", revokeKey);
  admin.notFound(() => errorResponse(404, "Not found: no such admin route."));
  admin.onError((error) => {
    if (error instanceof GatewayError) return errorResponse(error.status, error.message, error.headers);
    console.error("admin error", error);
    return errorResponse(500, "Internal gateway error in the admin API.");
  });
  return admin;
}

/** Mount with `app.use("/admin/*", adminApi())`, before the access log. */
export function adminApi() {
  const routes = adminRoutes();
  return createMiddleware<AppEnv>(async function adminApi(c, next) {
    if (!c.env.ADMIN_TOKEN) return next();
    return routes.fetch(c.req.raw, c.env, c.executionCtx);
  });
}
