#!/usr/bin/env node
'use strict';
// Writes preflight.cjs.cache next to preflight.cjs: V8's compiled code of the whole bundle, so
// that each start reads it instead of compiling (about 20 ms of a no-op run, BENCHMARKS.md).
// V8 accepts it only from the same Node.js version with the same V8 flags, so it is made by the
// node that will run preflight: `npm run build` makes it, and the Docker image remakes it in its
// runtime stage. preflight.cjs runs without it, or with a cache it rejects, from source.
//
//   node code-cache.cjs [path/to/preflight.cjs]
const { renameSync, writeFileSync } = require('node:fs');
const path = require('node:path');
const { setFlagsFromString } = require('node:v8');
const { Script } = require('node:vm');

const target = path.resolve(process.argv[2] ?? path.join(__dirname, 'preflight.cjs'));
// Required as a module, preflight.cjs hands over its source instead of running.
const { BUILD, SOURCE } = require(target);
if (typeof BUILD !== 'string' || typeof SOURCE !== 'string') {
  throw new Error(`${target} is not a preflight bundle with an embedded source`);
}
// Every function compiled now, not only those the top level runs; then the flags back as they
// are when preflight runs, since V8 checks them when it reads the cache.
setFlagsFromString('--no-lazy');
const script = new Script(SOURCE, { filename: target });
setFlagsFromString('--lazy');
const data = script.createCachedData();
const out = `${target}.cache`;
const partial = `${out}.${process.pid}`;
writeFileSync(partial, Buffer.concat([Buffer.from(BUILD, 'latin1'), data]));
renameSync(partial, out);
