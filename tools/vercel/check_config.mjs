// Validates vercel.json: its shape against the JSON schemas the Vercel CLI validates with (from @vercel/build-utils
// and @vercel/routing-utils), then that it matches the repository: every function file exists, is a [[bin]] of the
// root Cargo.toml and serves a route of the router; every file under api/ is configured; includeFiles find files.
// Usage: node tools/vercel/check_config.mjs [vercel.json]   (after `npm ci` in tools/vercel)
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import Ajv from "ajv";
import buildUtils from "@vercel/build-utils/dist/schemas.js";
import routingUtils from "@vercel/routing-utils/dist/schemas.js";

const configPath = process.argv[2] ?? "vercel.json";
const root = dirname(configPath);
const config = JSON.parse(readFileSync(configPath, "utf8"));
const problems = [];

const schema = {
  type: "object",
  additionalProperties: false,
  properties: {
    $schema: { type: "string" },
    functions: buildUtils.functionsSchema,
    builds: buildUtils.buildsSchema,
    routes: routingUtils.routesSchema,
    rewrites: routingUtils.rewritesSchema,
    redirects: routingUtils.redirectsSchema,
    headers: routingUtils.headersSchema,
    cleanUrls: routingUtils.cleanUrlsSchema,
    trailingSlash: routingUtils.trailingSlashSchema,
  },
};
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
if (!validate(config)) {
  for (const error of validate.errors) {
    const extra = error.params?.additionalProperty ? ` (${error.params.additionalProperty})` : "";
    problems.push(`schema: ${error.instancePath || "/"} ${error.message}${extra}`);
  }
}

const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });

const cargo = readFileSync(join(root, "Cargo.toml"), "utf8");
const binPaths = new Set([...cargo.matchAll(/^path\s*=\s*"(api\/[^"]+)"/gm)].map((m) => m[1]));
// The OpenAPI document is generated from the router's route table (a test keeps docs/openapi.json current).
const openapi = JSON.parse(readFileSync(join(root, "docs/openapi.json"), "utf8"));
const routes = new Set(Object.keys(openapi.paths));
const functions = config.functions ?? {};

for (const [file, settings] of Object.entries(functions)) {
  if (!existsSync(join(root, file))) problems.push(`${file}: no such file`);
  if (!binPaths.has(file)) problems.push(`${file}: not a [[bin]] path in Cargo.toml`);
  const route = "/" + file.replace(/\.rs$/, "");
  if (!routes.has(route)) problems.push(`${file}: the router has no route ${route}`);
  if (settings.includeFiles) {
    const folder = settings.includeFiles.replace(/\/\*\*$/, "");
    const found = existsSync(join(root, folder)) && walk(join(root, folder)).length > 0;
    if (!found) problems.push(`${file}: includeFiles ${settings.includeFiles} matches no file`);
  }
}
for (const file of walk(join(root, "api")).map((path) => relative(root, path))) {
  if (file.endsWith(".rs") && !(file in functions)) problems.push(`${file}: function without settings in vercel.json`);
}
for (const route of routes) {
  if (!(`${route.slice(1)}.rs` in functions)) problems.push(`route ${route} has no Vercel function`);
}

if (problems.length > 0) {
  console.error(`vercel.json: ${problems.length} problem(s)\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(`vercel.json: valid, ${Object.keys(functions).length} functions, one per route`);
