declare const __PREFLIGHT_VERSION__: string | undefined;

/** preflight's version: package.json's, set by the bundle (scripts/bundle.mjs); `dev` unbundled. */
export const VERSION = typeof __PREFLIGHT_VERSION__ === 'string' ? __PREFLIGHT_VERSION__ : 'dev';
