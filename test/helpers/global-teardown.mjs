/** Stops the embedded Postgres started by the global setup. */
export default async function globalTeardown() {
  await globalThis.__PREFLIGHT_EMBEDDED__?.stop();
}
