import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { crossCheck, flagsOf, readManifestDir, repoRoot, validateAgainstSchema, type K8sObject } from './k8s.js';

const dir = join(repoRoot, 'deploy/kubernetes');
const files = readManifestDir(dir, ['kustomization.yaml']);
const objects = files.flatMap((f) => f.objects);
const find = (kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (o === undefined) throw new Error(`no ${kind} ${name}`);
  return o;
};

describe('deploy/kubernetes', () => {
  it('kustomization.yaml lists exactly the manifest files', () => {
    const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'));
    expect(k.apiVersion).toBe('kustomize.config.k8s.io/v1beta1');
    expect(k.kind).toBe('Kustomization');
    for (const r of k.resources) expect(existsSync(join(dir, r)), r).toBe(true);
    expect([...k.resources].sort()).toEqual(files.map((f) => f.file));
  });

  it('has every kind the deployment needs', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'Deployment/switchboard',
      'Deployment/switchboard-redis',
      'HorizontalPodAutoscaler/switchboard',
      'PodDisruptionBudget/switchboard',
      'Secret/switchboard-secrets',
      'Service/switchboard',
      'Service/switchboard-redis',
    ]);
  });

  for (const { file, objects: objs } of files) {
    for (const o of objs) {
      it(`${file}: ${o.kind} ${o.metadata.name} matches the Kubernetes schema`, () => {
        expect(() => validateAgainstSchema(o)).not.toThrow();
      });
    }
  }

  it('cross-references hold (selectors, ports, probes, HPA and PDB targets, secrets, env names, drain timing)', () => {
    expect(crossCheck(objects, 'switchboard')).toEqual([]);
  });

  it('the checks catch broken manifests', () => {
    const deployment = structuredClone(find('Deployment', 'switchboard'));
    deployment.spec.template.spec.containers[0].ports[0].containerPort = '6001';
    expect(() => validateAgainstSchema(deployment)).toThrow(/containerPort must be integer/);
    const broken: K8sObject[] = structuredClone(objects);
    const d = broken.find((o) => o.kind === 'Deployment' && o.metadata.name === 'switchboard')!;
    d.spec.template.spec.containers[0].env.push({ name: 'SWITCHBOARD_MAX_CONECTIONS', value: '1' });
    d.spec.template.spec.containers[0].readinessProbe.httpGet.path = '/readyz';
    d.spec.template.spec.terminationGracePeriodSeconds = 8;
    broken.find((o) => o.kind === 'PodDisruptionBudget')!.spec.selector.matchLabels['app.kubernetes.io/name'] = 'other';
    broken.find((o) => o.kind === 'HorizontalPodAutoscaler')!.spec.scaleTargetRef.name = 'other';
    const problems = crossCheck(broken, 'switchboard').join('\n');
    expect(problems).toMatch(/SWITCHBOARD_MAX_CONECTIONS is not a config option/);
    expect(problems).toMatch(/readiness probe is not GET \/ready/);
    expect(problems).toMatch(/terminationGracePeriodSeconds 8/);
    expect(problems).toMatch(/PDB switchboard: selector/);
    expect(problems).toMatch(/HPA switchboard does not target/);
  });

  it('the HPA Pods metric is a metric the node exports', () => {
    const metrics = readFileSync(join(repoRoot, 'src/metrics/index.ts'), 'utf8');
    expect(metrics).toContain("name: 'switchboard_connections'");
  });

  it("the server container's env, secret and flags make a valid node config", () => {
    const d = find('Deployment', 'switchboard');
    const secret = find('Secret', 'switchboard-secrets');
    const c = d.spec.template.spec.containers[0];
    const env: Record<string, string> = {};
    for (const e of c.env) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom.secretKeyRef) env[e.name] = secret.stringData[e.valueFrom.secretKeyRef.key];
      else if (e.valueFrom.fieldRef) env[e.name] = 'switchboard-7d9f8-abcde';
    }
    const config = loadConfig({ env, argv: flagsOf(c.command) });
    expect(config.adapter).toBe('redis');
    expect(config.redisUrl).toBe('redis://switchboard-redis:6379');
    expect(config.drainSeconds).toBe(5);
    expect(config.port).toBe(6001);
    expect(config.apps.map((a) => a.id)).toEqual(['1001']);
    expect(c.command.slice(0, 3)).toEqual(['node', 'dist/cli/main.js', 'start']);
  });
});
