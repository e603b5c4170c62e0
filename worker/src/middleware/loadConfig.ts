/**
 * @module middleware/loadConfig
 * First stage of `/v1/*`: reads the Worker's vars and secrets into a typed {@link GatewayConfig}
 * for the stages after it. A setting that does not parse answers 500 naming it (see `config.ts`),
 * before anything else about the request is looked at.
 */
import { createMiddleware } from "hono/factory";
import { readConfig, type GatewayConfig } from "../config";
import type { StageEnv } from "../types";

/** Set by {@link loadConfig}. */
export type ConfigVariables = {
  config: GatewayConfig;
};

export function loadConfig() {
  return createMiddleware<StageEnv<ConfigVariables>>(async function loadConfig(c, next) {
    c.set("config", readConfig(c.env));
    await next();
  });
}
