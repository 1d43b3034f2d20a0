// Builds the one self-contained file that runs with no node_modules: dist/preflight.cjs.
import { build } from 'esbuild';
import { readFileSync, chmodSync } from 'node:fs';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
await build({
  entryPoints: ['src/cli/bin.ts'],
  outfile: 'dist/preflight.cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  // pg's optional native binding is never used.
  external: ['pg-native'],
  define: { __PREFLIGHT_VERSION__: JSON.stringify(version) },
  logLevel: 'warning',
});
chmodSync('dist/preflight.cjs', 0o755);
