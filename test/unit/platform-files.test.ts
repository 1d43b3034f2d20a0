import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { parseDuration } from '../../src/config/duration.js';

// The platform files cannot run here (no Docker engine, no cluster, no DigitalOcean account),
// so these tests read them and check the fields that decide whether they work.

const root = process.cwd();
const read = (file: string): string => readFileSync(path.join(root, file), 'utf8');

// ---------------------------------------------------------------------------------------------
// Dockerfile
// ---------------------------------------------------------------------------------------------

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}
interface Stage {
  readonly base: string;
  readonly name: string | undefined;
  readonly platform: string | undefined;
  readonly instructions: Instruction[];
}

/** Splits a Dockerfile into global ARGs and stages (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of lines) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const argsText = rest.join(' ');
    if (keyword.toUpperCase() === 'FROM') {
      const match = /^(?:--platform=(\S+)\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(argsText);
      if (!match) throw new Error(`cannot read ${line}`);
      const base = (match[2] ?? '').replace(
        /\$\{(\w+)\}/g,
        (_, name: string) => args.get(name) ?? '',
      );
      stages.push({ base, name: match[3], platform: match[1], instructions: [] });
    } else if (stages.length === 0 && keyword.toUpperCase() === 'ARG') {
      const [name = '', value = ''] = argsText.split('=');
      args.set(name, value);
    } else {
      stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args: argsText });
    }
  }
  return { args, stages };
}

function nodeMajor(image: string): number {
  const match = /^node:(\d+)/.exec(image);
  return match ? Number(match[1]) : 0;
}

describe('Dockerfile', () => {
  const { stages } = parseDockerfile(read('Dockerfile'));
  const build = stages[0];
  const runtime = stages.at(-1);
  const of = (stage: Stage | undefined, keyword: string): string[] =>
    (stage?.instructions ?? []).filter((i) => i.keyword === keyword).map((i) => i.args);

  it('is multi-stage on Node.js 22 or newer', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(nodeMajor(stage.base)).toBeGreaterThanOrEqual(22);
    expect(build?.name).toBe('build');
  });

  it('installs with npm ci and builds in the first stage', () => {
    const runs = of(build, 'RUN').join('\n');
    expect(runs).toMatch(/\bnpm ci\b/);
    expect(runs).toMatch(/\bnpm run build\b/);
    // Everything the build copies in is in the build context (.dockerignore lets it through).
    const sources = of(build, 'COPY').flatMap((args) => args.split(/\s+/).slice(0, -1));
    for (const source of sources) expect(existsSync(path.join(root, source))).toBe(true);
  });

  it('copies only the bundle, migrations/ and seeds/ into the final image', () => {
    const copies = of(runtime, 'COPY').map((args) => args.split(/\s+/));
    expect(copies).toHaveLength(3);
    for (const copy of copies) expect(copy[0]).toBe(`--from=${build?.name ?? 'build'}`);
    expect(copies.map((c) => c.slice(1))).toEqual([
      ['/src/dist/preflight.cjs', '/src/dist/code-cache.cjs', '/app/'],
      ['/src/migrations/', '/app/migrations/'],
      ['/src/seeds/', '/app/seeds/'],
    ]);
    expect(of(runtime, 'ADD')).toEqual([]);
    // The one step run there: the code cache, made by the runtime's own node, then its maker removed.
    expect(of(runtime, 'RUN')).toEqual([
      'node /app/code-cache.cjs /app/preflight.cjs && rm /app/code-cache.cjs',
    ]);
  });

  it('runs as a numeric non-root user, with node /app/preflight.cjs as ENTRYPOINT and run as CMD', () => {
    const users = of(runtime, 'USER');
    expect(users).toHaveLength(1);
    const [uid = ''] = (users[0] ?? '').split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    const instructions = runtime?.instructions.map((i) => i.keyword) ?? [];
    expect(instructions.indexOf('USER')).toBeLessThan(instructions.indexOf('ENTRYPOINT'));
    expect(JSON.parse(of(runtime, 'ENTRYPOINT')[0] ?? 'null')).toEqual([
      'node',
      '/app/preflight.cjs',
    ]);
    expect(JSON.parse(of(runtime, 'CMD')[0] ?? 'null')).toEqual(['run']);
  });

  it('has a .dockerignore that sends only an allowlist (never .env, .preflight/ or node_modules)', () => {
    const rules = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(rules[0]).toBe('*');
    const allowed = rules
      .filter((r) => r.startsWith('!'))
      .map((r) => r.slice(1).replace(/\/$/, ''));
    expect(allowed).not.toEqual(
      expect.arrayContaining(['.env', '.preflight', 'node_modules', 'dist']),
    );
    const sources = of(build, 'COPY').flatMap((args) => args.split(/\s+/).slice(0, -1));
    for (const source of sources) expect(allowed).toContain(source.replace(/\/$/, ''));
  });
});

// ---------------------------------------------------------------------------------------------
// DigitalOcean App Platform
// ---------------------------------------------------------------------------------------------

interface DoEnv {
  key: string;
  value?: string;
  scope?: string;
}
interface DoComponent {
  name: string;
  kind?: string;
  dockerfile_path?: string;
  run_command?: string;
  build_command?: string;
  envs?: DoEnv[];
}
interface DoSpec {
  databases: Array<{ name: string; engine: string; production?: boolean }>;
  jobs: DoComponent[];
  services: DoComponent[];
}

describe('.do/app.yaml', () => {
  const spec = parse(read('.do/app.yaml')) as DoSpec;
  const database = spec.databases[0];
  const job = spec.jobs.find((j) => j.kind === 'PRE_DEPLOY');
  const env = (component: DoComponent | undefined, key: string): DoEnv | undefined =>
    component?.envs?.find((e) => e.key === key);

  it('has a managed Postgres database component', () => {
    expect(spec.databases).toHaveLength(1);
    expect(database).toMatchObject({ engine: 'PG', production: true });
  });

  it('runs preflight as a PRE_DEPLOY job built from the Dockerfile', () => {
    expect(job).toBeDefined();
    expect(job?.dockerfile_path).toBe('Dockerfile');
    expect(existsSync(path.join(root, job?.dockerfile_path ?? 'missing'))).toBe(true);
  });

  it('binds DATABASE_URL and DATABASE_CA_CERT from the database at run time', () => {
    for (const component of [job, ...spec.services]) {
      expect(env(component, 'DATABASE_URL')).toEqual({
        key: 'DATABASE_URL',
        scope: 'RUN_TIME',
        value: `\${${database?.name}.DATABASE_URL}`,
      });
      expect(env(component, 'DATABASE_CA_CERT')).toEqual({
        key: 'DATABASE_CA_CERT',
        scope: 'RUN_TIME',
        value: `\${${database?.name}.CA_CERT}`,
      });
    }
  });

  it('gives the job lock and deadline settings that preflight accepts, the lock wait inside the deadline', () => {
    const lock = parseDuration(env(job, 'PREFLIGHT_LOCK_TIMEOUT')?.value ?? '');
    const deadline = parseDuration(env(job, 'PREFLIGHT_DEADLINE')?.value ?? '');
    expect(lock).toBeDefined();
    expect(deadline).toBeDefined();
    expect(lock ?? Infinity).toBeLessThan(deadline ?? 0);
    for (const e of job?.envs ?? []) expect(e.scope).toBe('RUN_TIME');
  });

  it('says why the job must not use a connection pool, and the backend no longer migrates itself', () => {
    expect(read('.do/app.yaml')).toMatch(/transaction mode[\s\S]*advisory lock/);
    for (const service of spec.services) {
      expect(`${service.build_command ?? ''} ${service.run_command ?? ''}`).not.toMatch(/migrate/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Kubernetes
// ---------------------------------------------------------------------------------------------

interface K8sEnv {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface K8sContainer {
  name: string;
  args?: string[];
  env?: K8sEnv[];
  terminationMessagePolicy?: string;
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[] };
  };
}
interface K8sPodSpec {
  restartPolicy?: string;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  initContainers?: K8sContainer[];
  containers: K8sContainer[];
}

function checkPreflightContainer(pod: K8sPodSpec, container: K8sContainer | undefined): void {
  expect(container?.args).toEqual(['run']);
  expect(container?.terminationMessagePolicy).toBe('FallbackToLogsOnError');
  const url = container?.env?.find((e) => e.name === 'DATABASE_URL');
  expect(url?.value).toBeUndefined();
  expect(url?.valueFrom?.secretKeyRef?.key).toBe('DATABASE_URL');
  checkNonRoot(pod, container);
}

function checkNonRoot(pod: K8sPodSpec, container: K8sContainer | undefined): void {
  const sc = container?.securityContext;
  expect(sc?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot).toBe(true);
  expect(sc?.runAsUser ?? pod.securityContext?.runAsUser ?? 1000).toBeGreaterThan(0);
  expect(sc?.allowPrivilegeEscalation).toBe(false);
  expect(sc?.readOnlyRootFilesystem).toBe(true);
  expect(sc?.capabilities?.drop).toContain('ALL');
}

function envMs(container: K8sContainer | undefined, name: string): number {
  const value = container?.env?.find((e) => e.name === name)?.value;
  const ms = value === undefined ? undefined : parseDuration(value);
  if (ms === undefined) throw new Error(`${name} is missing or not a duration: ${String(value)}`);
  return ms;
}

describe('docs/kubernetes/init-container.yaml', () => {
  const deployment = parse(read('docs/kubernetes/init-container.yaml')) as {
    kind: string;
    spec: {
      progressDeadlineSeconds: number;
      strategy: { rollingUpdate: { maxUnavailable: number } };
      template: { spec: K8sPodSpec };
    };
  };
  const pod = deployment.spec.template.spec;
  const preflight = pod.initContainers?.find((c) => c.name === 'preflight');

  it('is a Deployment whose pods run preflight as an init container', () => {
    expect(deployment.kind).toBe('Deployment');
    checkPreflightContainer(pod, preflight);
  });

  it('runs every container as non-root with a read-only root filesystem and no capabilities', () => {
    for (const container of [...(pod.initContainers ?? []), ...pod.containers])
      checkNonRoot(pod, container);
  });

  it('keeps the old pods serving, and ends the lock wait and the run before the progress deadline', () => {
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    const lock = envMs(preflight, 'PREFLIGHT_LOCK_TIMEOUT');
    const deadline = envMs(preflight, 'PREFLIGHT_DEADLINE');
    expect(envMs(preflight, 'PREFLIGHT_WAIT')).toBeLessThan(lock);
    expect(lock).toBeLessThan(deadline);
    expect(deadline).toBeLessThan(deployment.spec.progressDeadlineSeconds * 1000);
  });
});

describe('docs/kubernetes/helm-pre-upgrade-job.yaml', () => {
  const job = parse(read('docs/kubernetes/helm-pre-upgrade-job.yaml')) as {
    kind: string;
    metadata: { annotations: Record<string, string> };
    spec: {
      backoffLimit: number;
      activeDeadlineSeconds: number;
      podFailurePolicy?: { rules: Array<{ action: string; onExitCodes?: { values: number[] } }> };
      template: { spec: K8sPodSpec };
    };
  };
  const pod = job.spec.template.spec;
  const preflight = pod.containers.find((c) => c.name === 'preflight');

  it('is a Helm pre-install,pre-upgrade hook Job with a delete policy and a backoff limit', () => {
    expect(job.kind).toBe('Job');
    expect(job.metadata.annotations['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    expect(job.metadata.annotations['helm.sh/hook-delete-policy']).toMatch(/before-hook-creation/);
    expect(job.spec.backoffLimit).toBeGreaterThanOrEqual(0);
    expect(job.spec.backoffLimit).toBeLessThanOrEqual(2);
    expect(pod.restartPolicy).toBe('Never');
    checkPreflightContainer(pod, preflight);
  });

  it('fails at once on the exit codes a retry would only repeat', () => {
    const failJob = job.spec.podFailurePolicy?.rules.find((r) => r.action === 'FailJob');
    expect(failJob?.onExitCodes?.values).toEqual(expect.arrayContaining([2, 5, 6, 7, 8]));
    expect(failJob?.onExitCodes?.values).not.toContain(3);
    expect(failJob?.onExitCodes?.values).not.toContain(4);
  });

  it('ends the lock wait and the run before the Job deadline and Helm’s default 5m hook timeout', () => {
    const lock = envMs(preflight, 'PREFLIGHT_LOCK_TIMEOUT');
    const deadline = envMs(preflight, 'PREFLIGHT_DEADLINE');
    expect(lock).toBeLessThan(deadline);
    expect(deadline).toBeLessThan(job.spec.activeDeadlineSeconds * 1000);
    expect(job.spec.activeDeadlineSeconds).toBeLessThan(5 * 60);
  });
});
