declare const __PREFLIGHT_VERSION__: string | undefined;

/** preflight's version: package.json's, set by the bundle (scripts/bundle.mjs); `dev` unbundled. */
export const VERSION = typeof __PREFLIGHT_VERSION__ === 'string' ? __PREFLIGHT_VERSION__ : 'dev';

declare const __PREFLIGHT_BUILD__: string | undefined;

/** A hash of the sources the bundle was built from (scripts/bundle.mjs); `dev` unbundled. */
export const BUILD = typeof __PREFLIGHT_BUILD__ === 'string' ? __PREFLIGHT_BUILD__ : 'dev';
