/**
 * @module admin/auth
 * Guards the admin API with `Authorization: Bearer <ADMIN_TOKEN>` (without ADMIN_TOKEN the admin
 * API is not mounted at all, and refuses everything if reached). Tokens are compared as SHA-256
 * digests with `crypto.subtle.timingSafeEqual` (as Hono's bearer-auth does), so neither the
 * token's content nor its length leaks through timing.
 */
import { createMiddleware } from "hono/factory";
import { GatewayError, notFound } from "../errors";
import type { AppEnv } from "../types";

const encoder = new TextEncoder();

async function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", encoder.encode(text));
}

/** Constant-time equality of two secrets of any length. */
export async function sameSecret(presented: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(presented), digest(expected)]);
  return crypto.subtle.timingSafeEqual(a, b);
}

export function adminAuth() {
  return createMiddleware<AppEnv>(async function adminAuth(c, next) {
    const token = c.env.ADMIN_TOKEN;
    if (!token) throw notFound();
    const presented = /^Bearer +(\S+) *$/i.exec(c.req.header("Authorization") ?? "")?.[1] ?? "";
    if (!presented || !(await sameSecret(presented, token))) {
      console.warn("admin request refused: missing or wrong token", c.req.path);
      throw new GatewayError(401, "Missing or wrong admin token.", "admin_unauthorized", {
        "WWW-Authenticate": 'Bearer realm="organized-gateway admin"',
      });
    }
    await next();
  });
}
