// Builds the board (web/app) into pm_server/static: index.html and assets/<name>-<hash>.<ext>.
// Usage: node build.mjs [OUT_DIR]. The same sources and lock file give the same bytes, so
// tests/web/test_bundle.py rebuilds into a temporary folder and compares with the committed one.
import * as esbuild from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? join(here, "..", "pm_server", "static");

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });
const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { app: "app/main.tsx" },
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  outdir: join(out, "assets"),
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  charset: "utf8",
  metafile: true,
  logLevel: "warning",
});

const names = {};
for (const [path, output] of Object.entries(result.metafile.outputs)) {
  if (output.entryPoint !== undefined || path.endsWith(".css")) {
    names[`app${path.slice(path.lastIndexOf("."))}`] = basename(path);
  }
}
const page = readFileSync(join(here, "app", "index.html"), "utf8").replace(/\{\{(app\.\w+)\}\}/g, (_, key) => {
  if (names[key] === undefined) throw new Error(`the build made no ${key}`);
  return names[key];
});
writeFileSync(join(out, "index.html"), page);
console.log(`built ${Object.values(names).join(", ")} into ${out}`);
