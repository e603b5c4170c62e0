/**
 * @module types
 * The Hono context types. Bindings come from the `wrangler types`-generated `Env`. Each stage
 * declares the variables it sets beside its code (`ConfigVariables` in `middleware/loadConfig.ts`,
 * as Hono's `RequestIdVariables`), and they are composed here into the app's `Variables`.
 *
 * Code that runs for every request (the access log, the error boundary) sees {@link AppEnv}: only
 * `requestId` is sure to be there, everything else is optional because the stage that sets it may
 * not have run (a request refused earlier, a path that is not `/v1/*`). A stage sees
 * {@link StageEnv} of the variables it reads and sets: in the route chain those are set by the
 * stages before it. A new stage (a gate, event controls) declares its `…Variables`, adds them to
 * {@link StageVariables}, and takes its place in the chain in `index.ts`.
 */
import type { ErrorBoundaryVariables } from "./errorBoundary";
import type { OriginVariables } from "./handlers/proxyHandler";
import type { AccessLogVariables } from "./middleware/accessLog";
import type { ControlsVariables } from "./middleware/eventControls";
import type { IdentityVariables } from "./middleware/identifyUser";
import type { ConfigVariables } from "./middleware/loadConfig";
import type { OriginCredentialVariables } from "./middleware/originCredential";
import type { OriginPoolVariables } from "./middleware/originPool";
import type { BodyVariables } from "./middleware/readBody";

/** The variables of the stages that may or may not have run for a given request. */
export type StageVariables = ConfigVariables &
  ControlsVariables &
  IdentityVariables &
  BodyVariables &
  OriginCredentialVariables &
  OriginPoolVariables &
  OriginVariables &
  ErrorBoundaryVariables;

/** What every request's context holds: its id, and whatever the stages that ran have set. */
export type GatewayVariables = AccessLogVariables & Partial<StageVariables>;

export type AppEnv = { Bindings: Env; Variables: GatewayVariables };

/** The context of one stage: the variables it reads (set before it) and the ones it sets. */
export type StageEnv<V extends object> = { Bindings: Env; Variables: V };
