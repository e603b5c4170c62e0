/**
 * Secrets and settings without a default are not in wrangler.toml (secrets are set with
 * `wrangler secret put` or `.dev.vars`), so `wrangler types` cannot see them; they are declared
 * here, optional, beside the generated `Env`.
 */
declare namespace Cloudflare {
  interface Env {
    OPENCLAW_URL?: string;
    AUTH_MODE?: string;
    USER_KEY_SECRET?: string;
    IP_HASH_SALT?: string;
    ORIGIN_MAX_CONCURRENCY?: string;
    ADMIN_TOKEN?: string;
  }
}
