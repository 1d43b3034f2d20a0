// Builds the one self-contained file that runs with no node_modules: dist/preflight.cjs.
// It is all the Docker image ships (with migrations/ and seeds/), so the build fails when the
// bundle would still require a package at run time.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync } from 'node:fs';
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
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  external: [...NEVER_LOADED],
  define: {
    __PREFLIGHT_VERSION__: JSON.stringify(version),
    __PREFLIGHT_BUILD__: JSON.stringify(sourceHash()),
  },
  metafile: true,
  // Runs first: V8 settings for a short-lived process (see the file).
  inject: ['src/cli/v8-flags.ts'],
  plugins: [pgNodeSockets, pgLazyWebCrypto, noPinoTransports, pinoMainThread],
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
chmodSync('dist/preflight.cjs', 0o755);
