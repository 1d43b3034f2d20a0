// Builds the one self-contained file that runs with no node_modules: dist/preflight.cjs.
// It is all the Docker image ships (with migrations/ and seeds/), so the build fails when the
// bundle would still require a package at run time.
//
// The file is a small loader around the bundle's source, kept as a string: it compiles that
// source from V8's code cache when dist/preflight.cjs.cache holds one made for it by this
// Node.js (scripts/code-cache.cjs, run here and in the Docker image), and from source otherwise.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';

// pg requires its optional native binding only when `pg.native` is read, which preflight never does.
const NEVER_LOADED = new Set(['pg-native']);

// pg picks its socket by asking whether it runs in a Cloudflare Worker; on Node 20 that question
// reads the global `Response`, which loads all of undici (fetch, http, http2, zlib): about 40 ms of
// every start, for nothing. The bundle only ever runs on Node, so it takes Node's sockets directly.
const pgNodeSockets = {
  name: 'pg-node-sockets',
  setup(builder) {
    builder.onLoad({ filter: /[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const patched = source.replace('if (isCloudflareRuntime()) {', 'if (false) {');
      if (patched === source) throw new Error(`${args.path}: pg's runtime check was not found`);
      return { contents: patched, loader: 'js' };
    });
  },
};

// pino loads thread-stream (and with it worker_threads, about 10 ms) at start-up, for transports,
// which preflight never uses: it writes its own lines synchronously. The bundle gets a stand-in
// that says so if anything ever asks for a transport.
const noPinoTransports = {
  name: 'no-pino-transports',
  setup(builder) {
    builder.onResolve({ filter: /^thread-stream$/ }, () => ({
      path: 'thread-stream',
      namespace: 'preflight-stub',
    }));
    builder.onLoad({ filter: /.*/, namespace: 'preflight-stub' }, () => ({
      contents:
        "module.exports = class ThreadStream { constructor() { throw new Error('pino transports are not part of the preflight bundle'); } };",
      loader: 'js',
    }));
  },
};

// pino's tools read `isMainThread` from worker_threads (loading it at start-up) only to decide
// whether an asynchronous destination needs an exit hook; preflight runs on the main thread.
// pg loads node:dns when it loads, for a lookup only its native binding makes: on first use instead.
const pgLazyDns = {
  name: 'pg-lazy-dns',
  setup(builder) {
    builder.onLoad({ filter: /[\\/]pg[\\/]lib[\\/]connection-parameters\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const patched = source.replace(
        "const dns = require('dns')",
        "const dns = { lookup: (...args) => require('dns').lookup(...args) }",
      );
      if (patched === source) throw new Error(`${args.path}: pg's dns import was not found`);
      return { contents: patched, loader: 'js' };
    });
  },
};

// pino loads sonic-boom (its file-descriptor stream, and with it node:assert) when it loads;
// preflight hands pino a stream of its own, so sonic-boom loads on first use instead.
const lazySonicBoom = {
  name: 'lazy-sonic-boom',
  setup(builder) {
    builder.onResolve({ filter: /^sonic-boom$/ }, (args) => ({
      path: 'sonic-boom',
      namespace: 'preflight-lazy',
      pluginData: { resolveDir: args.resolveDir },
    }));
    builder.onLoad({ filter: /.*/, namespace: 'preflight-lazy' }, (args) => ({
      contents: `let real;
const load = () => (real ??= require('sonic-boom/index.js'));
function SonicBoom(opts) { return new (load())(opts); }
Object.defineProperty(SonicBoom, Symbol.hasInstance, { value: (x) => real !== undefined && x instanceof real });
module.exports = SonicBoom;`,
      resolveDir: args.pluginData.resolveDir,
      loader: 'js',
    }));
  },
};

const pinoMainThread = {
  name: 'pino-main-thread',
  setup(builder) {
    builder.onLoad({ filter: /[\\/]pino[\\/]lib[\\/]tools\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const patched = source.replace(
        "const { isMainThread } = require('worker_threads')",
        'const isMainThread = true',
      );
      if (patched === source)
        throw new Error(`${args.path}: pino's worker_threads import was not found`);
      return { contents: patched, loader: 'js' };
    });
  },
};

// pg reads Node's WebCrypto when it loads (about 6 ms of every start), though only a password
// login (SCRAM) needs it: the bundle makes both lookups lazy, on first use.
const pgLazyWebCrypto = {
  name: 'pg-lazy-webcrypto',
  setup(builder) {
    builder.onLoad({ filter: /[\\/]pg[\\/]lib[\\/]crypto[\\/]utils\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const lazy = (expression) =>
        `new Proxy({}, { get(_, key) { const target = ${expression}; const value = target[key]; return typeof value === 'function' ? value.bind(target) : value; } })`;
      const patched = source
        .replace(
          'const webCrypto = nodeCrypto.webcrypto || globalThis.crypto',
          `const webCrypto = ${lazy('(nodeCrypto.webcrypto || globalThis.crypto)')}`,
        )
        .replace(
          'const subtleCrypto = webCrypto.subtle',
          `const subtleCrypto = ${lazy('(nodeCrypto.webcrypto || globalThis.crypto).subtle')}`,
        );
      if ((patched.match(/new Proxy/g) ?? []).length !== 2) {
        throw new Error(`${args.path}: pg's WebCrypto lookups were not found`);
      }
      return { contents: patched, loader: 'js' };
    });
  },
};

// The build: a hash of the sources and the lockfile. It keys the verified state (see
// src/schema/verified-state.ts) together with the version, so that a build whose comparison
// differs never replays a result recorded by another one, even under the same version number.
function sourceHash() {
  const hash = createHash('sha256');
  const files = readdirSync('src', { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'))
    .sort();
  for (const file of files) hash.update(`${file}\n`).update(readFileSync(`src/${file}`));
  hash.update(readFileSync('package-lock.json'));
  return hash.digest('hex').slice(0, 16);
}

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const result = await build({
  entryPoints: ['src/cli/bin.ts'],
  outfile: 'dist/preflight.cjs',
  write: false,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  // `import()` of a builtin becomes a plain require: the loader compiles the bundle as a script,
  // where a dynamic import would need a module loader of its own.
  supported: { 'dynamic-import': false },
  external: [...NEVER_LOADED],
  define: {
    __PREFLIGHT_VERSION__: JSON.stringify(version),
    __PREFLIGHT_BUILD__: JSON.stringify(sourceHash()),
  },
  metafile: true,
  plugins: [
    pgNodeSockets,
    pgLazyWebCrypto,
    noPinoTransports,
    pinoMainThread,
    lazySonicBoom,
    pgLazyDns,
  ],
  logLevel: 'warning',
});

const builtins = new Set(builtinModules);
const leftovers = Object.values(result.metafile.outputs)
  .flatMap((output) => output.imports)
  .map((entry) => entry.path)
  .filter((name) => !name.startsWith('node:') && !builtins.has(name) && !NEVER_LOADED.has(name));
if (leftovers.length > 0) {
  throw new Error(
    `dist/preflight.cjs would need node_modules at run time for: ${[...new Set(leftovers)].join(', ')}`,
  );
}
const [output] = result.outputFiles;
const wrapped = `(function (exports, require, module, __filename, __dirname) {${output.text.replace(/^#![^\n]*\n/, '')}\n})`;
const buildId = createHash('sha256').update(wrapped).digest('hex');
writeFileSync('dist/preflight.cjs', loader(buildId, wrapped));
chmodSync('dist/preflight.cjs', 0o755);
copyFileSync('scripts/code-cache.cjs', 'dist/code-cache.cjs');
rmSync('dist/preflight.cjs.cache', { force: true });
execFileSync(process.execPath, ['dist/code-cache.cjs', 'dist/preflight.cjs'], { stdio: 'inherit' });

/** dist/preflight.cjs: the bundle's source as a string, and how it is compiled and run. */
function loader(id, source) {
  return `#!/usr/bin/env node
'use strict';
// preflight ${version}, bundled by scripts/bundle.mjs. Required as a module, this file hands over
// its source (scripts/code-cache.cjs); run, it compiles and runs it, from preflight.cjs.cache when
// that holds V8's code for this very source and Node.js, from source otherwise.
const BUILD = ${JSON.stringify(id)};
const SOURCE = ${JSON.stringify(source)};
if (require.main !== module) {
  module.exports = { BUILD, SOURCE };
} else {
  const { readFileSync } = require('node:fs');
  const { Script } = require('node:vm');
  let cachedData;
  try {
    const cache = readFileSync(__filename + '.cache');
    if (cache.toString('latin1', 0, BUILD.length) === BUILD) cachedData = cache.subarray(BUILD.length);
  } catch {
    // No cache (or unreadable): compiled from source.
  }
  const run = new Script(SOURCE, { filename: __filename, cachedData }).runInThisContext();
  run(exports, require, module, __filename, __dirname);
}
`;
}
