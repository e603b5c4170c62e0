import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "../migrations"));
  return {
    plugins: [
      cloudflareTest({
        main: "./src/index.ts",
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          // Test-only bindings: the migrations to apply, a known origin URL to intercept,
          // strangers' counts flushed at once (a test waits for its request's waitUntil work), and
          // whether to run the CPU figures (`CPU_MEASURE=1 npx vitest run test/cpuMeasure.test.ts`).
          bindings: {
            TEST_MIGRATIONS: migrations,
            OPENCLAW_URL: "http://origin.test/base",
            STRANGER_FLUSH_MS: "0",
            CPU_MEASURE: process.env.CPU_MEASURE ?? "",
          },
        },
      }),
    ],
    test: {
      setupFiles: ["./test/apply-migrations.ts"],
      // Bursts of 200 requests through workerd take ~1 s on an idle machine but several on a busy
      // 2-core one; vitest's 5 s default turned load into failures. Assertions are unchanged.
      testTimeout: 30_000,
    },
  };
});
