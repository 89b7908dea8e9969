/**
 * Shared checks for the deploy tests: offline Kubernetes JSON-schema validation
 * (the `kubernetes-models` package ships the Kubernetes OpenAPI schemas compiled for ajv)
 * and cross-references between the objects of one set of manifests.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { configOptions, RESERVED_ENV_NAMES } from '../../src/config/options.js';
import { ROUTES } from '../../src/api/routes.js';

export const repoRoot = new URL('../../', import.meta.url).pathname;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type K8sObject = Record<string, any> & { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> } };

/** The validating model class of every kind the deploy files use. */
const models: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

/** Every YAML document of a text (empty documents, e.g. a disabled Helm template, are dropped). */
export function parseManifests(text: string, source: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    out.push(value as K8sObject);
  }
  return out;
}

export function readManifestDir(dir: string, skip: readonly string[] = []): { file: string; objects: K8sObject[] }[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f) && !skip.includes(f))
    .sort()
    .map((file) => ({ file, objects: parseManifests(readFileSync(join(dir, file), 'utf8'), file) }));
}

/** Throws with ajv's messages when the object does not match the Kubernetes schema of its kind. */
export function validateAgainstSchema(obj: K8sObject): void {
  const Model = models[`${obj.apiVersion}/${obj.kind}`];
  if (Model === undefined) throw new Error(`no schema registered for ${obj.apiVersion} ${obj.kind}`);
  new Model(obj as never).validate();
}

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** A valid DNS-1123 label name for Services (and a subdomain-safe name for the others). */
const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** The node's HTTP paths, from the router itself. */
const nodePaths = new Set(ROUTES.map((r) => r.template));
const envNames = new Set(configOptions.map((o) => o.envName));

/**
 * Cross-reference checks over one set of objects; returns the problems found (empty = fine).
 * `serverName` is the Switchboard Deployment's name.
 */
export function crossCheck(objects: readonly K8sObject[], serverName: string): string[] {
  const problems: string[] = [];
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
  for (const o of objects) {
    if (!DNS_LABEL.test(o.metadata.name) || o.metadata.name.length > 63) problems.push(`${o.kind} ${o.metadata.name}: not a DNS-1123 label`);
  }
  const names = new Set<string>();
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata.name}`;
    if (names.has(id)) problems.push(`${id} defined twice`);
    names.add(id);
  }

  const deployments = byKind('Deployment');
  const server = deployments.find((d) => d.metadata.name === serverName);
  if (server === undefined) return [...problems, `no Deployment ${serverName}`];

  for (const d of deployments) {
    const podLabels = d.spec.template.metadata?.labels as Record<string, string> | undefined;
    if (!matches(d.spec.selector.matchLabels, podLabels)) problems.push(`Deployment ${d.metadata.name}: selector does not match its pod labels`);
    for (const c of d.spec.template.spec.containers) {
      const portNames = new Set((c.ports ?? []).map((p: { name?: string }) => p.name));
      const portNumbers = new Set((c.ports ?? []).map((p: { containerPort: number }) => p.containerPort));
      for (const probeName of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
        const probe = c[probeName];
        if (probe === undefined) continue;
        const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
        if (typeof port === 'string' ? !portNames.has(port) : !portNumbers.has(port))
          problems.push(`${d.metadata.name}/${c.name} ${probeName}: port ${port} is not a container port`);
      }
    }
  }

  // The server pod: probes on the node's real routes, real SWITCHBOARD_* names, secrets that exist.
  const pod = server.spec.template.spec;
  const container = pod.containers[0];
  const podLabels = server.spec.template.metadata.labels as Record<string, string>;
  if (container.readinessProbe?.httpGet?.path !== '/ready') problems.push('readiness probe is not GET /ready');
  if (container.livenessProbe?.httpGet?.path !== '/health') problems.push('liveness probe is not GET /health');
  for (const probe of [container.readinessProbe, container.livenessProbe]) {
    if (probe?.httpGet !== undefined && !nodePaths.has(probe.httpGet.path)) problems.push(`probe path ${probe.httpGet.path} is not a node route`);
  }
  const env = (container.env ?? []) as { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } }[];
  for (const e of env) {
    if (e.name.startsWith('SWITCHBOARD_') && !envNames.has(e.name) && !RESERVED_ENV_NAMES.has(e.name)) problems.push(`env ${e.name} is not a config option`);
    const ref = e.valueFrom?.secretKeyRef;
    if (ref !== undefined) {
      const secret = byKind('Secret').find((s) => s.metadata.name === ref.name);
      if (secret === undefined) problems.push(`env ${e.name}: no Secret ${ref.name}`);
      else if (!(ref.key in { ...(secret.stringData ?? {}), ...(secret.data ?? {}) }) && ref.optional !== true)
        problems.push(`env ${e.name}: Secret ${ref.name} has no key ${ref.key}`);
    }
  }

  // Drain: preStop sleep + drainSeconds + a margin fit in the grace period.
  const drain = Number(env.find((e) => e.name === 'SWITCHBOARD_DRAIN_SECONDS')?.value ?? 5);
  const preStop = container.lifecycle?.preStop?.exec?.command as string[] | undefined;
  const preStopSeconds = preStop?.[0] === 'sleep' ? Number(preStop[1]) : 0;
  if (preStopSeconds <= 0) problems.push('no preStop sleep: the pod could get new connections while draining');
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  if (grace < preStopSeconds + drain + 5) problems.push(`terminationGracePeriodSeconds ${grace} < preStop ${preStopSeconds} + drain ${drain} + 5`);

  const services = byKind('Service');
  const serverService = services.find((s) => matches(s.spec.selector, podLabels));
  if (serverService === undefined) problems.push('no Service selects the server pods');
  for (const s of services) {
    const target = deployments.find((d) => matches(s.spec.selector, d.spec.template.metadata.labels));
    if (target === undefined) {
      problems.push(`Service ${s.metadata.name}: selector matches no Deployment`);
      continue;
    }
    const ports = target.spec.template.spec.containers.flatMap((c: { ports?: { name?: string; containerPort: number }[] }) => c.ports ?? []);
    for (const p of s.spec.ports) {
      const t = p.targetPort ?? p.port;
      if (!ports.some((cp: { name?: string; containerPort: number }) => (typeof t === 'string' ? cp.name === t : cp.containerPort === t)))
        problems.push(`Service ${s.metadata.name}: targetPort ${t} is not a container port`);
    }
  }

  // The broker URL points at a Service of the set (when the set brings its own Redis).
  const redisUrl = env.find((e) => e.name === 'SWITCHBOARD_REDIS_URL')?.value;
  if (redisUrl !== undefined) {
    const url = new URL(redisUrl);
    const svc = services.find((s) => s.metadata.name === url.hostname);
    if (svc !== undefined && !svc.spec.ports.some((p: { port: number }) => p.port === Number(url.port || 6379)))
      problems.push(`SWITCHBOARD_REDIS_URL port ${url.port} is not a port of Service ${svc.metadata.name}`);
    if (svc === undefined && services.length > 1) problems.push(`SWITCHBOARD_REDIS_URL host ${url.hostname} is no Service of the set`);
  }

  for (const h of byKind('HorizontalPodAutoscaler')) {
    const ref = h.spec.scaleTargetRef;
    if (ref.kind !== 'Deployment' || ref.apiVersion !== 'apps/v1' || ref.name !== serverName)
      problems.push(`HPA ${h.metadata.name} does not target Deployment ${serverName}`);
    if (h.spec.minReplicas > h.spec.maxReplicas) problems.push(`HPA ${h.metadata.name}: minReplicas > maxReplicas`);
    for (const m of h.spec.metrics) {
      if (m.type === 'Pods' && m.pods.metric.name !== 'switchboard_connections') problems.push(`HPA Pods metric ${m.pods.metric.name} unexpected`);
      if (m.type === 'Resource' && m.resource.target.type === 'Utilization' && container.resources?.requests?.[m.resource.name] === undefined)
        problems.push(`HPA on ${m.resource.name} utilization needs a ${m.resource.name} request`);
    }
  }
  for (const p of byKind('PodDisruptionBudget')) {
    if (!matches(p.spec.selector.matchLabels, podLabels)) problems.push(`PDB ${p.metadata.name}: selector does not match the server pods`);
  }
  // Flags in the command are real options.
  const flags = new Set(configOptions.map((o) => o.flag));
  for (const arg of (container.command ?? []) as string[]) {
    if (arg.startsWith('--') && !flags.has(arg.slice(2))) problems.push(`command flag ${arg} is not a config option`);
  }
  return problems;
}

/** `--adapter redis` → `{ adapter: 'redis' }`, keyed by option name as loadConfig wants. */
export function flagsOf(command: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < command.length; i++) {
    const arg = command[i]!;
    if (!arg.startsWith('--')) continue;
    const option = configOptions.find((o) => o.flag === arg.slice(2));
    if (option !== undefined) out[option.key] = command[++i]!;
  }
  return out;
}
