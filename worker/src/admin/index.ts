/**
 * @module admin
 * The Worker's admin API under `/admin/`. It runs before the access log, so admin calls are not
 * attendee rows. Without ADMIN_TOKEN it does not exist: the request goes on down the normal
 * path and gets the same 404 (and log entry) as any unknown path. Every route is behind
 * {@link adminAuth}; later admin features (event controls) add their routes in {@link adminRoutes}.
 */
import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { errorResponse, GatewayError } from "../errors";
import type { AppEnv } from "../types";
import { adminAuth } from "./auth";
import { statusHandler } from "./status";

/** The admin routes, relative to `/admin`. */
function adminRoutes(): Hono<AppEnv> {
  const admin = new Hono<AppEnv>().basePath("/admin");
  admin.use("*", adminAuth());
  admin.get("/status", statusHandler);
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
