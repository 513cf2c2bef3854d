// A doc_search ranking plugin in Node.js (v20, no npm dependencies), speaking plugway's
// out-of-process wire protocol (docs/wire-protocol.md, "plugway-http/1").
//
//   PLUGWAY_PLUGIN_SECRET=... node plugin.mjs [--listen 127.0.0.1:0 | --listen unix:/path]
//                                              [--corpus PATH] [--segment SEGMENT]
//
// Once it accepts calls it prints one line on stdout, the handshake a supervisor reads:
//   PLUGWAY-PLUGIN-HOST listening http://127.0.0.1:PORT plugway-http/1
// Logs go to stderr. It serves, with the secret as "Authorization: Bearer <secret>":
//   POST /v1/doc_search/<segment>/search   {"context": {...}, "args": {"query", "limit"}}
//   POST /v1/doc_search/<segment>/suggest  {"context": {...}, "args": {"prefix", "limit"}}
//   GET  /v1/health, GET /openapi.json

import { createServer } from "node:http";
import { readFileSync, existsSync, unlinkSync } from "node:fs";
import { timingSafeEqual, createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";

const PROTOCOL = "plugway-http/1";
const CONTRACT = "gts.x.core.modkit.plugin.v1~x.plugway.doc_search.plugin.v1.1~";
const MAX_BODY = 1024 * 1024;

// -- options ---------------------------------------------------------------------------------

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

const here = dirname(fileURLToPath(import.meta.url));
const corpusPath = option(
  "corpus",
  resolve(here, "../../src/plugway/modules/doc_search/corpus.json"),
);
const segment = option("segment", "nodejs.example.term_ranker.plugin.v1");
const listen = option("listen", "127.0.0.1:0");
const pluginId = CONTRACT + segment;
const prefix = `/v1/doc_search/${segment}`;

const secretText = process.env.PLUGWAY_PLUGIN_SECRET ?? "";
if (!secretText && !process.argv.includes("--no-secret")) {
  console.error("node-doc-search: no secret (set PLUGWAY_PLUGIN_SECRET, or --no-secret)");
  process.exit(2);
}
const secret = Buffer.from(secretText, "utf8");

// -- ranking: term frequency with a title boost, over the corpus plugway ships ---------------

const STOP = new Set("a an and are as at be by for from how if in is it of on or the to with".split(" "));
const tokenize = (text) =>
  (text.toLowerCase().match(/[a-z0-9]+/g) ?? []).filter((t) => !STOP.has(t));

const documents = JSON.parse(readFileSync(corpusPath, "utf8")).documents.map((d) => ({
  id: d.id,
  title: d.title,
  titleTerms: new Set(tokenize(d.title)),
  bodyTerms: tokenize(d.body),
}));

function search(query, limit) {
  const terms = [...new Set(tokenize(query))];
  const scored = [];
  for (const doc of documents) {
    let score = 0;
    for (const term of terms) {
      const tf = doc.bodyTerms.filter((t) => t === term).length;
      score += tf / (tf + 1) + (doc.titleTerms.has(term) ? 1.5 : 0);
    }
    if (score > 0) scored.push({ doc_id: doc.id, title: doc.title, score: Math.round(score * 1e6) / 1e6 });
  }
  scored.sort((a, b) => b.score - a.score || (a.doc_id < b.doc_id ? -1 : 1));
  return { plugin_id: pluginId, algorithm: "node-tf", hits: scored.slice(0, limit) };
}

function suggest(prefixText, limit) {
  const wanted = prefixText.trim().toLowerCase();
  if (!wanted) return [];
  return documents
    .map((d) => d.title)
    .filter((t) => t.toLowerCase().startsWith(wanted))
    .sort()
    .slice(0, limit);
}

// -- the wire protocol -----------------------------------------------------------------------

class BadRequest extends Error {
  constructor(errors) {
    super("arguments do not fit the contract");
    this.errors = errors;
  }
}

// Validate as the contract's annotations say: every field typed, nothing extra.
function checkCall(body, params) {
  const errors = [];
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new BadRequest([{ path: "", message: "Input should be an object" }]);
  }
  for (const key of Object.keys(body)) {
    if (key !== "context" && key !== "args") errors.push({ path: key, message: "Extra inputs are not permitted" });
  }
  const ctx = body.context;
  if (typeof ctx !== "object" || ctx === null) errors.push({ path: "context", message: "Field required" });
  else {
    for (const key of ["tenant_id", "subject_id"]) {
      if (key in ctx && typeof ctx[key] !== "string") errors.push({ path: `context.${key}`, message: "Input should be a valid string" });
    }
  }
  const args = body.args;
  if (typeof args !== "object" || args === null) {
    errors.push({ path: "args", message: "Field required" });
  } else {
    for (const [name, kind] of Object.entries(params)) {
      const value = args[name];
      if (value === undefined) errors.push({ path: `args.${name}`, message: "Field required" });
      else if (kind === "str" && typeof value !== "string") errors.push({ path: `args.${name}`, message: "Input should be a valid string" });
      else if (kind === "int" && !Number.isInteger(value)) errors.push({ path: `args.${name}`, message: "Input should be a valid integer" });
    }
    for (const key of Object.keys(args)) {
      if (!(key in params)) errors.push({ path: `args.${key}`, message: "Extra inputs are not permitted" });
    }
  }
  if (errors.length) throw new BadRequest(errors);
  return args;
}

const methods = {
  search: { params: { query: "str", limit: "int" }, run: (a) => search(a.query, a.limit) },
  suggest: { params: { prefix: "str", limit: "int" }, run: (a) => suggest(a.prefix, a.limit) },
};

const STATUS = { bad_request: 400, unauthorized: 401, not_found: 404, method_not_allowed: 405, too_large: 413, plugin_error: 500 };

function answer(res, status, doc) {
  const body = Buffer.from(JSON.stringify(doc));
  res.writeHead(status, { "content-type": "application/json", "content-length": body.length });
  res.end(body);
}

function fail(res, type, message, errors = []) {
  answer(res, STATUS[type], { error: { type, message, errors } });
}

function authorized(req) {
  if (!secret.length) return true;
  const header = Buffer.from(req.headers.authorization ?? "", "latin1");
  const given = header.subarray(7);
  // compare digests: timingSafeEqual wants equal lengths, and the length must not leak either
  const digest = (b) => createHash("sha256").update(b).digest();
  return (
    header.subarray(0, 7).toString("latin1").toLowerCase() === "bearer " &&
    timingSafeEqual(digest(given), digest(secret))
  );
}

const health = { status: "ok", protocol: PROTOCOL, plugins: [{ id: pluginId, contract: CONTRACT, contract_version: "1.1", path: prefix, methods: Object.keys(methods) }] };
const openapi = {
  openapi: "3.1.0",
  info: { title: "node doc_search plugin", version: PROTOCOL },
  security: [{ secret: [] }],
  components: { securitySchemes: { secret: { type: "http", scheme: "bearer" } } },
  paths: Object.fromEntries(
    Object.entries(methods).map(([name, m]) => [
      `${prefix}/${name}`,
      {
        post: {
          operationId: `doc_search.${segment}.${name}`,
          "x-plugway-plugin": pluginId,
          "x-plugway-contract": CONTRACT,
          "x-plugway-contract-version": "1.1",
          requestBody: {
            required: true,
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  required: ["context", "args"],
                  properties: {
                    context: { type: "object" },
                    args: {
                      type: "object",
                      additionalProperties: false,
                      required: Object.keys(m.params),
                      properties: Object.fromEntries(
                        Object.entries(m.params).map(([p, k]) => [p, { type: k === "int" ? "integer" : "string" }]),
                      ),
                    },
                  },
                },
              },
            },
          },
          responses: { 200: { description: "{\"result\": ...}" } },
        },
      },
    ]),
  ),
};

const server = createServer((req, res) => {
  if (!authorized(req)) return fail(res, "unauthorized", "missing or wrong secret");
  const path = req.url.split("?")[0];
  if (req.method === "GET" && path === "/v1/health") return answer(res, 200, health);
  if (req.method === "GET" && path === "/openapi.json") return answer(res, 200, openapi);
  const name = path.startsWith(prefix + "/") ? path.slice(prefix.length + 1) : null;
  const method = name !== null && Object.hasOwn(methods, name) ? methods[name] : null;
  if (method === null) return fail(res, "not_found", `no plugin method at ${path}`);
  if (req.method !== "POST") return fail(res, "method_not_allowed", "plugin methods are called with POST");
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size <= MAX_BODY) chunks.push(chunk);
  });
  req.on("end", () => {
    if (size > MAX_BODY) return fail(res, "too_large", `request body over ${MAX_BODY} bytes`);
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch (err) {
      return fail(res, "bad_request", "arguments do not fit the contract", [{ path: "", message: `Invalid JSON: ${err.message}` }]);
    }
    try {
      const args = checkCall(body, method.params);
      return answer(res, 200, { result: method.run(args) });
    } catch (err) {
      if (err instanceof BadRequest) return fail(res, "bad_request", err.message, err.errors);
      console.error(`node-doc-search: ${name} failed:`, err);
      return fail(res, "plugin_error", `${err.name}: ${err.message}`);
    }
  });
});
server.keepAliveTimeout = 30_000;

function ready(url) {
  console.error(`node-doc-search: serving ${pluginId} at ${url}${prefix}`);
  process.stdout.write(`PLUGWAY-PLUGIN-HOST listening ${url} ${PROTOCOL}\n`);
}

if (listen.startsWith("unix:")) {
  const path = listen.slice("unix:".length);
  if (existsSync(path)) unlinkSync(path);
  process.umask(0o177); // the socket is born 0600
  server.listen(path, () => ready(`unix:${path}`));
} else {
  const at = listen.lastIndexOf(":");
  const host = at > 0 ? listen.slice(0, at) : "127.0.0.1";
  const port = Number(at >= 0 ? listen.slice(at + 1) : listen);
  server.listen(port, host, () => ready(`http://${host}:${server.address().port}`));
}

function stop() {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref();
}

for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, stop);

// launched by plugway's supervisor: stdin ends when the server that started us is gone
if (process.env.PLUGWAY_HOST_LIFELINE === "stdin") {
  process.stdin.on("end", stop);
  process.stdin.resume();
}
