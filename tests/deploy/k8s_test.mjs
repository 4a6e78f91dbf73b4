// deploy/k8s, checked offline: every overlay renders with `kubectl
// kustomize`, every object validates against the Kubernetes schemas
// (kubernetes-models), and the manifests agree with the binaries they run:
// options from each binary's own --help, ports, secrets, hardening, probes,
// drain timing and the NetworkPolicy edges.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BINARIES, ROOT, helpOptions, kustomize, readText } from './lib.mjs';

const OVERLAYS = ['dev', 'prod'];
const SERVICES = ['invoice', 'payments', 'notify'];
const rendered = Object.fromEntries(
  OVERLAYS.map((o) => [o, kustomize(path.join(ROOT, 'deploy/k8s/overlays', o))]));
const options = Object.fromEntries(
  Object.entries(BINARIES).map(([name, bin]) => [name, helpOptions(bin)]));

// --- helpers over one rendered overlay ----------------------------------------
const ofKind = (objs, kind) => objs.filter((o) => o.kind === kind);
const named = (objs, kind, name) => objs.find((o) => o.kind === kind && o.metadata.name === name);
const workloads = (objs) => objs.filter((o) => ['Deployment', 'StatefulSet'].includes(o.kind));
const allContainers = (w) => [...(w.spec.template.spec.initContainers || []), ...w.spec.template.spec.containers];
// The binary an image runs: billing/<name> or <registry>/billing/<name>.
function binaryOf(container) {
  const m = container.image.match(/(?:^|\/)billing\/([a-z-]+)(?::|$)/);
  return m && BINARIES[m[1]] ? m[1] : null;
}
function matches(selector, labels) {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels || {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions || []) {
    const has = Object.hasOwn(labels, e.key);
    if (e.operator === 'In' && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}
const podsOf = (objs, selector) => workloads(objs).filter((w) => matches(selector, w.spec.template.metadata.labels));
const portOf = (address) => Number(address.slice(address.lastIndexOf(':') + 1));
// A container's effective environment: name -> {value} | {secretKeyRef} | {configMap}.
function environment(objs, container) {
  const env = new Map();
  for (const from of container.envFrom || []) {
    assert.ok(from.configMapRef, `${container.name}: envFrom only from ConfigMaps (secrets are mounted)`);
    const cm = named(objs, 'ConfigMap', from.configMapRef.name);
    assert.ok(cm, `${container.name}: ConfigMap ${from.configMapRef.name} is not rendered`);
    for (const [k, v] of Object.entries(cm.data || {})) env.set(k, { value: v, configMap: cm.metadata.name });
  }
  for (const e of container.env || []) {
    if (e.valueFrom?.configMapKeyRef) assert.fail(`${container.name}: ${e.name} from a single ConfigMap key; use envFrom`);
    env.set(e.name, e.valueFrom ? { secretKeyRef: e.valueFrom.secretKeyRef, value: undefined } : { value: e.value });
  }
  return env;
}
// Where a mounted file comes from: {secret, key} or null. The deepest mount
// whose path holds the file wins (as in the container); a Secret volume with
// `items` projects only those keys.
function mountedFile(workload, container, file) {
  const mounts = (container.volumeMounts || [])
    .filter((m) => file.startsWith(m.mountPath.endsWith('/') ? m.mountPath : m.mountPath + '/'))
    .sort((a, b) => b.mountPath.length - a.mountPath.length);
  if (!mounts.length) return null;
  const m = mounts[0];
  const rest = file.slice(m.mountPath.replace(/\/$/, '').length + 1);
  const vol = workload.spec.template.spec.volumes.find((v) => v.name === m.name);
  if (!vol?.secret) return null;
  if (!vol.secret.items) return { secret: vol.secret.secretName, key: rest };
  const item = vol.secret.items.find((i) => i.path === rest);
  return item ? { secret: vol.secret.secretName, key: item.key } : null;
}
// Secrets a Certificate will create, by name.
const certificateSecrets = (objs) => new Set(ofKind(objs, 'Certificate').map((c) => c.spec.secretName));
// Keys of a Secret that is rendered (dev) or documented in the runbook (prod).
function secretKeys(objs, name) {
  const s = named(objs, 'Secret', name);
  if (s) return new Set(Object.keys({ ...(s.data || {}), ...(s.stringData || {}) }));
  if (certificateSecrets(objs).has(name)) return new Set(['tls.crt', 'tls.key', 'ca.crt']);
  const documented = documentedSecrets().get(name);
  assert.ok(documented, `Secret ${name} is neither rendered nor documented in docs/operations.md`);
  return documented;
}
// docs/operations.md's table under "## Secrets": | `name` | `key`, `key` | ... |
function documentedSecrets() {
  const doc = readText('docs/operations.md');
  const section = doc.slice(doc.indexOf('\n## Secrets\n'), doc.indexOf('\n## ', doc.indexOf('\n## Secrets\n') + 5));
  const out = new Map();
  for (const line of section.split('\n')) {
    const m = line.match(/^\|\s*`([a-z0-9-]+)`\s*\|([^|]*)\|/);
    if (m) out.set(m[1], new Set([...m[2].matchAll(/`([a-z0-9.-]+)`/g)].map((k) => k[1])));
  }
  assert.ok(out.size >= 4, 'the runbook\'s Secrets table');
  return out;
}
function decoded(secret) {
  const values = Object.values(secret.data || {}).map((v) => Buffer.from(v, 'base64').toString());
  return [...values, ...Object.values(secret.stringData || {})];
}

// Stand-ins for the production Secrets (not in git), shaped like the real
// values so the binaries' validation treats them as it would the real ones.
const PLACEHOLDERS = {
  'database-url': 'postgresql://billing:placeholder@db.example.com:5432/billing?sslmode=verify-full&sslrootcert=/var/run/secrets/billing-db/ca.crt',
  'ca.crt': '-----BEGIN CERTIFICATE-----\nplaceholder\n-----END CERTIFICATE-----',
  'stripe-secret-key': 'sk_live_placeholder',
  'stripe-webhook-secrets': 'whsec_placeholder_new,whsec_placeholder_old',
  'smtp-username': 'billing-relay',
  'smtp-password': 'placeholder',
  'sms-account-sid': 'ACplaceholder',
  'sms-auth-token': 'placeholder',
  'caller-tokens': 'payment-page=placeholder-page-0000001\nbooking=placeholder-booking-00001\n' +
    'payments=placeholder-payments-0001\ninvoice=placeholder-invoice-00001\nadmin=placeholder-admin-000001',
  'notify-token': 'placeholder-invoice-00001',
  'payments-token': 'placeholder-invoice-00001',
  'invoice-token': 'placeholder-payments-0001',
};
function secretValue(objs, name, key) {
  const s = named(objs, 'Secret', name);
  if (s) return Buffer.from(s.data[key].replace(/\s+/g, ''), 'base64').toString();
  assert.ok(Object.hasOwn(PLACEHOLDERS, key), `no placeholder for ${name}/${key}`);
  return PLACEHOLDERS[key];
}
// Runs the container's binary with its args and the environment Kubernetes
// would give it (Secret files written to a temp folder), plus --check-config.
function checkConfig(objs, workload, container) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'k8s-env-'));
  const env = { PATH: process.env.PATH };
  for (const [name, source] of environment(objs, container)) {
    if (source.secretKeyRef) {
      env[name] = secretValue(objs, source.secretKeyRef.name, source.secretKeyRef.key);
    } else if (name.endsWith('_FILE') && options[binaryOf(container)].some((o) => o.secret && `${o.name}_FILE` === name)) {
      const file = mountedFile(workload, container, source.value);
      const local = path.join(dir, name);
      writeFileSync(local, secretValue(objs, file.secret, file.key));
      env[name] = local;
    } else {
      env[name] = source.value;
    }
  }
  return spawnSync(BINARIES[binaryOf(container)], [...(container.args || []), '--check-config'],
    { env, encoding: 'utf8' });
}

// --- the tests ------------------------------------------------------------------
describe('kustomize renders and every object is valid', () => {
  for (const overlay of OVERLAYS) {
    it(`${overlay}: every object validates against its schema`, async () => {
      const objs = rendered[overlay];
      assert.ok(objs.length > 20, `${overlay} rendered only ${objs.length} objects`);
      for (const obj of objs) {
        const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
        const module = obj.apiVersion === 'cert-manager.io/v1'
          ? `@kubernetes-models/cert-manager/cert-manager.io/v1/${obj.kind}`
          : group === 'monitoring.coreos.com'
            ? `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}/${obj.kind}`
            : `kubernetes-models/${group ? group + '/' : ''}${version}/${obj.kind}`;
        const Model = (await import(module))[obj.kind];
        assert.ok(Model, `${obj.apiVersion} ${obj.kind}: no schema`);
        // kustomize folds long base64 over lines; the API server's decoder
        // skips the newlines, the schema's format check does not.
        const normalized = obj.kind === 'Secret' ? { ...obj, data: Object.fromEntries(
          Object.entries(obj.data || {}).map(([k, v]) => [k, v.replace(/\s+/g, '')])) } : obj;
        assert.doesNotThrow(() => new Model(normalized).validate(), `${overlay}: ${obj.kind}/${obj.metadata.name}`);
        assert.ok(obj.kind === 'Namespace' || obj.metadata.namespace,
          `${obj.kind}/${obj.metadata.name} has no namespace`);
      }
    });
  }

  it('the schema check can fail (a wrong type is caught)', async () => {
    const { Deployment } = await import('kubernetes-models/apps/v1/Deployment');
    const bad = structuredClone(named(rendered.prod, 'Deployment', 'invoice'));
    bad.spec.replicas = 'two';
    assert.throws(() => new Deployment(bad).validate(), /replicas/);
  });
});

for (const overlay of OVERLAYS) {
  const objs = rendered[overlay];
  describe(`${overlay}: each service has its objects and its binary's configuration`, () => {
    for (const svc of SERVICES) {
      it(`${svc}: Deployment, Service, ServiceAccount, ConfigMap, PDB, HPA`, () => {
        const dep = named(objs, 'Deployment', svc);
        assert.ok(dep, 'Deployment');
        assert.ok(named(objs, 'Service', svc), 'Service');
        assert.equal(dep.spec.template.spec.serviceAccountName, svc);
        assert.ok(named(objs, 'ServiceAccount', svc), 'ServiceAccount');
        assert.ok(ofKind(objs, 'ConfigMap').some((c) => c.metadata.name.startsWith(`${svc}-config`)), 'ConfigMap');
        const pdb = ofKind(objs, 'PodDisruptionBudget').find((p) => matches(p.spec.selector, dep.spec.template.metadata.labels));
        assert.ok(pdb, 'a PodDisruptionBudget selects its pods');
        const hpa = ofKind(objs, 'HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.name === svc);
        assert.ok(hpa, 'HorizontalPodAutoscaler');
        assert.equal(hpa.spec.scaleTargetRef.kind, 'Deployment');
        assert.ok(hpa.spec.minReplicas <= hpa.spec.maxReplicas);
        assert.ok(matches(dep.spec.selector, dep.spec.template.metadata.labels), 'selector matches template');
      });

      it(`${svc}: every required option is set, every variable is one the binary knows`, () => {
        const dep = named(objs, 'Deployment', svc);
        for (const c of allContainers(dep).filter((c) => binaryOf(c) === svc)) {
          const known = new Map(options[svc].map((o) => [o.name, o]));
          const env = environment(objs, c);
          for (const [name, source] of env) {
            const base = name.endsWith('_FILE') ? name.slice(0, -5) : name;
            assert.ok(known.has(name) || (known.get(base)?.secret && name.endsWith('_FILE')),
              `${c.name}: ${name} is not an option of ${svc} (--help)`);
            if (name.endsWith('_FILE')) {
              const file = mountedFile(dep, c, source.value);
              assert.ok(file, `${c.name}: ${name}=${source.value} is not in a mounted Secret`);
              assert.ok(secretKeys(objs, file.secret).has(file.key), `${c.name}: ${file.secret} has no key ${file.key}`);
            }
            if (source.secretKeyRef) {
              assert.ok(secretKeys(objs, source.secretKeyRef.name).has(source.secretKeyRef.key),
                `${c.name}: ${name}: Secret ${source.secretKeyRef.name} has no key ${source.secretKeyRef.key}`);
            }
          }
          for (const o of options[svc]) {
            const set = (env.get(o.name)?.value ?? '') !== '' || env.get(o.name)?.secretKeyRef ||
              (env.get(`${o.name}_FILE`)?.value ?? '') !== '';
            // --migrate-only requires the database alone (and gets nothing else).
            const required = c.args?.includes('--migrate-only') ? o.name === 'DATABASE_URL' : o.required;
            if (required) assert.ok(set, `${c.name}: required ${o.name} is not set`);
            if (o.secret) {
              assert.ok(!(env.get(o.name)?.value), `${c.name}: secret ${o.name} has a literal or ConfigMap value`);
            }
          }
        }
      });

      it(`${svc}: ports, probes and the Service agree with the binary's flags`, () => {
        const dep = named(objs, 'Deployment', svc);
        const c = dep.spec.template.spec.containers.find((x) => x.name === svc);
        const env = environment(objs, c);
        const value = (name) => env.get(name)?.value ?? options[svc].find((o) => o.name === name).default;
        const ports = Object.fromEntries(c.ports.map((p) => [p.name, p.containerPort]));
        const expect = { grpc: 'GRPC_LISTEN_ADDRESS', metrics: 'METRICS_LISTEN_ADDRESS', health: 'HEALTH_LISTEN_ADDRESS' };
        if (svc === 'invoice') expect['grpc-events'] = 'PAYMENT_EVENTS_LISTEN_ADDRESS';
        if (svc === 'payments') expect.webhook = 'WEBHOOK_LISTEN_ADDRESS';
        assert.deepEqual(Object.keys(ports).sort(), Object.keys(expect).sort(), 'container ports');
        for (const [port, option] of Object.entries(expect)) {
          assert.ok(value(option), `${option} is set`);
          assert.equal(portOf(value(option)), ports[port], `${port} port = ${option}`);
        }
        // Native gRPC probes on the plaintext health port; liveness asks for
        // the process only ("liveness"), never the database.
        for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
          assert.equal(c[probe]?.grpc?.port, ports.health, `${probe} is a gRPC probe on the health port`);
        }
        assert.equal(c.livenessProbe.grpc.service, 'liveness');
        assert.ok(!c.readinessProbe.grpc.service, 'readiness checks the whole server');
        assert.equal(dep.spec.template.metadata.annotations['prometheus.io/port'], String(ports.metrics));
        const service = named(objs, 'Service', svc);
        assert.ok(matches({ matchLabels: service.spec.selector }, dep.spec.template.metadata.labels), 'Service selects the pods');
        for (const p of service.spec.ports) {
          assert.ok(Object.hasOwn(ports, p.targetPort), `Service port ${p.name} targets a named container port`);
          assert.equal(p.port, ports[p.targetPort], `Service port ${p.name} keeps the container's number`);
        }
      });

      it(`${svc}: addresses of other services point at their Services and ports`, () => {
        const dep = named(objs, 'Deployment', svc);
        const env = environment(objs, dep.spec.template.spec.containers.find((x) => x.name === svc));
        const targets = { NOTIFY_ADDRESS: ['notify', 'grpc'], PAYMENTS_ADDRESS: ['payments', 'grpc'],
          INVOICE_ADDRESS: ['invoice', 'grpc-events'] };
        for (const [name, [target, portName]] of Object.entries(targets)) {
          if (!options[svc].some((o) => o.name === name)) continue;
          const address = env.get(name)?.value;
          assert.ok(address, `${name} is set`);
          const host = address.slice(0, address.lastIndexOf(':')).split('.')[0];
          assert.equal(host, target, `${name} names the ${target} Service`);
          const service = named(objs, 'Service', target);
          assert.equal(portOf(address), service.spec.ports.find((p) => p.name === portName).port,
            `${name} uses ${target}'s ${portName} port`);
        }
      });

      it(`${svc}: every container's configuration passes the binary's own validation`, () => {
        const dep = named(objs, 'Deployment', svc);
        const ours = allContainers(dep).filter((c) => binaryOf(c));
        assert.ok(ours.length >= 2, 'the service and its migrator');
        for (const c of ours) {
          const r = checkConfig(objs, dep, c);
          assert.equal(r.status, 0, `${c.name}: ${r.stderr}${r.stdout}`);
          assert.match(r.stdout, /configuration ok/);
        }
      });

      it(`${svc}: the runbook explains every variable the manifests set`, () => {
        const doc = readText('docs/operations.md');
        for (const c of allContainers(named(objs, 'Deployment', svc))) {
          for (const name of environment(objs, c).keys()) {
            assert.ok(doc.includes('`' + name + '`'), `docs/operations.md does not mention ${name}`);
          }
        }
      });

      it(`${svc}: migrations run once per rollout, before the new pods serve`, () => {
        const spec = named(objs, 'Deployment', svc).spec.template.spec;
        const migrate = (spec.initContainers || []).find((c) => c.args?.includes('--migrate-only'));
        assert.ok(migrate, 'an initContainer with --migrate-only');
        assert.equal(binaryOf(migrate), svc);
        assert.equal(migrate.image, spec.containers.find((c) => c.name === svc).image, 'the same image as the service');
        const env = environment(objs, spec.containers.find((c) => c.name === svc));
        assert.equal(env.get('AUTO_MIGRATE')?.value, 'false', 'the serving container never migrates');
        // Least privilege: the migrator sees the database URL and no other secret.
        const files = (migrate.volumeMounts || []).flatMap((m) => {
          const vol = spec.volumes.find((v) => v.name === m.name);
          return vol.secret ? (vol.secret.items || [{ key: '*' }]).map((i) => i.key) : [];
        });
        assert.ok(files.includes('database-url'));
        assert.deepEqual(files.filter((k) => !['database-url', 'ca.crt'].includes(k)), [],
          'the database URL (and the database\'s CA), nothing else');
        assert.ok(!migrate.envFrom && !(migrate.env || []).some((e) => e.valueFrom), 'no other configuration or secret');
      });

      it(`${svc}: termination grace covers preStop, drain and shutdown`, () => {
        const spec = named(objs, 'Deployment', svc).spec.template.spec;
        const c = spec.containers.find((x) => x.name === svc);
        const env = environment(objs, c);
        const preStop = c.lifecycle?.preStop?.exec?.command;
        assert.ok(preStop && preStop[0].endsWith('sleep'), 'a preStop sleep lets endpoints drop the pod first');
        const needed = Number(preStop[1]) + Number(env.get('SHUTDOWN_DRAIN_DELAY_MS').value) / 1000 +
          Number(env.get('SHUTDOWN_TIMEOUT_MS').value) / 1000 + 5;
        assert.ok(spec.terminationGracePeriodSeconds >= needed,
          `terminationGracePeriodSeconds ${spec.terminationGracePeriodSeconds} < ${needed}`);
      });
    }
  });

  describe(`${overlay}: hardened pods, and secrets only in Secrets`, () => {
    it('every workload and container is hardened and has requests and limits', () => {
      for (const w of workloads(objs)) {
        const spec = w.spec.template.spec;
        const where = `${w.kind}/${w.metadata.name}`;
        assert.equal(spec.securityContext?.runAsNonRoot, true, `${where}: runAsNonRoot`);
        assert.ok(spec.securityContext.runAsUser > 0, `${where}: a non-root UID`);
        assert.equal(spec.securityContext.seccompProfile?.type, 'RuntimeDefault', `${where}: seccomp`);
        assert.equal(spec.automountServiceAccountToken, false, `${where}: no API token`);
        for (const c of allContainers(w)) {
          const sc = c.securityContext || {};
          assert.equal(sc.allowPrivilegeEscalation, false, `${where}/${c.name}: allowPrivilegeEscalation`);
          assert.equal(sc.readOnlyRootFilesystem, true, `${where}/${c.name}: readOnlyRootFilesystem`);
          assert.equal(sc.runAsNonRoot, true, `${where}/${c.name}: runAsNonRoot`);
          assert.deepEqual(sc.capabilities?.drop, ['ALL'], `${where}/${c.name}: drop ALL`);
          assert.ok(!sc.capabilities?.add, `${where}/${c.name}: no added capabilities`);
          assert.ok(!sc.privileged, `${where}/${c.name}: not privileged`);
          for (const kind of ['requests', 'limits']) {
            for (const r of ['cpu', 'memory']) assert.ok(c.resources?.[kind]?.[r], `${where}/${c.name}: ${kind}.${r}`);
          }
          if (!c.args?.includes('--migrate-only') && !spec.initContainers?.includes(c)) {
            assert.ok(c.readinessProbe && c.livenessProbe, `${where}/${c.name}: readiness and liveness probes`);
          }
        }
      }
      for (const ns of ofKind(objs, 'Namespace')) {
        assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
      }
    });

    it('no ConfigMap holds a secret', () => {
      const secretNames = new Set(Object.values(options).flat().filter((o) => o.secret).map((o) => o.name));
      const secretValues = ofKind(objs, 'Secret').flatMap(decoded).filter((v) => v.length >= 6);
      const looksSecret = [/sk_(live|test)_/, /rk_(live|test)_/, /whsec_/, /:\/\/[^/@\s]+:[^/@\s]+@/,
        /-----BEGIN/, /password/i];
      for (const cm of ofKind(objs, 'ConfigMap')) {
        for (const [k, v] of Object.entries(cm.data || {})) {
          const where = `ConfigMap ${cm.metadata.name} ${k}`;
          assert.ok(!secretNames.has(k), `${where}: a secret option`);
          for (const re of looksSecret) assert.ok(!re.test(v), `${where}: looks like a secret (${re})`);
          for (const s of secretValues) assert.ok(!v.includes(s), `${where}: holds a Secret's value`);
        }
      }
      // The check itself can fail.
      assert.ok(looksSecret.some((re) => re.test('postgresql://billing:hunter2@db/invoice')));
    });
  });

  describe(`${overlay}: NetworkPolicies`, () => {
    const policies = ofKind(objs, 'NetworkPolicy');
    it('everything is denied by default', () => {
      const deny = policies.find((p) => Object.keys(p.spec.podSelector).length === 0);
      assert.ok(deny && deny.spec.policyTypes.includes('Ingress') && !deny.spec.ingress, 'a default-deny ingress policy');
    });

    it('every NetworkPolicy selects existing pods, and admits them on ports they serve', () => {
      for (const p of policies) {
        const pods = Object.keys(p.spec.podSelector).length === 0 ? workloads(objs) : podsOf(objs, p.spec.podSelector);
        assert.ok(pods.length > 0, `${p.metadata.name} selects no pods`);
        const served = new Set(pods.flatMap((w) => w.spec.template.spec.containers.flatMap((c) => (c.ports || []).map((x) => x.containerPort))));
        for (const rule of p.spec.ingress || []) {
          assert.ok(rule.from?.length, `${p.metadata.name}: a rule with no "from" admits everyone`);
          for (const port of rule.ports || []) assert.ok(served.has(port.port), `${p.metadata.name}: port ${port.port} is not served`);
          for (const peer of rule.from) {
            if (peer.podSelector && !peer.namespaceSelector) {
              assert.ok(podsOf(objs, peer.podSelector).length > 0, `${p.metadata.name}: a "from" that selects no pods`);
            }
            assert.ok(!peer.ipBlock, `${p.metadata.name}: no ipBlock peers`);
          }
        }
      }
    });

    // Who may reach a (workload, port): a list of "pod:<name>" / "ns:<name>".
    function admitted(workload, port) {
      const labels = workload.spec.template.metadata.labels;
      const who = new Set();
      for (const p of policies.filter((x) => Object.keys(x.spec.podSelector).length && matches(x.spec.podSelector, labels))) {
        for (const rule of p.spec.ingress || []) {
          if (rule.ports && !rule.ports.some((x) => x.port === port)) continue;
          for (const peer of rule.from) {
            if (peer.namespaceSelector) {
              const l = peer.namespaceSelector.matchLabels || {};
              who.add(`ns:${l['kubernetes.io/metadata.name'] || JSON.stringify(l)}`);
            } else {
              for (const w of podsOf(objs, peer.podSelector)) who.add(`pod:${w.metadata.name}`);
            }
          }
        }
      }
      return [...who].sort();
    }
    it('the edges: invoice alone calls payments and notify, payments alone calls PaymentEventService', () => {
      const w = (n) => named(objs, 'Deployment', n);
      assert.deepEqual(admitted(w('payments'), 50052), ['pod:invoice']);
      assert.deepEqual(admitted(w('notify'), 50053), ['pod:invoice']);
      assert.deepEqual(admitted(w('invoice'), 50061), ['pod:payments']);
      assert.deepEqual(admitted(w('invoice'), 50051), ['ns:{"billing.example.com/invoice-client":"true"}']);
      assert.deepEqual(admitted(w('payments'), 8462), ['ns:ingress-nginx']);
      for (const [svc, port] of [['invoice', 9461], ['payments', 9462], ['notify', 9463]]) {
        assert.deepEqual(admitted(w(svc), port), ['ns:monitoring'], `${svc} metrics`);
      }
      // Nothing else is open on the services.
      for (const svc of SERVICES) {
        for (const c of w(svc).spec.template.spec.containers) {
          for (const p of c.ports || []) {
            if (['grpc', 'grpc-events', 'metrics', 'webhook'].includes(p.name)) continue;
            assert.deepEqual(admitted(w(svc), p.containerPort), [], `${svc}/${c.name}:${p.name} is closed`);
          }
        }
      }
    });
  });
}

describe('dev: one replica, in-cluster PostgreSQL, the emulator and the sinks', () => {
  const objs = rendered.dev;
  it('single replicas', () => {
    for (const d of ofKind(objs, 'Deployment')) assert.equal(d.spec.replicas, 1, d.metadata.name);
    for (const h of ofKind(objs, 'HorizontalPodAutoscaler')) assert.equal(h.spec.maxReplicas, 1, h.metadata.name);
  });
  it('PostgreSQL runs as a StatefulSet and every DATABASE_URL names it', () => {
    const pg = named(objs, 'StatefulSet', 'postgres');
    assert.ok(pg && pg.spec.volumeClaimTemplates.length);
    const init = named(objs, 'ConfigMap', 'postgres-init').data['10-databases.sql'];
    for (const svc of SERVICES) {
      const secret = ofKind(objs, 'Secret').find((s) => s.metadata.name.startsWith(`${svc}-secrets`));
      const url = Buffer.from(secret.data['database-url'], 'base64').toString();
      assert.match(url, new RegExp(`^postgresql://billing:[^@]+@postgres:5432/${svc}$`));
      assert.ok(init.includes(`CREATE DATABASE ${svc};`));
    }
  });
  it('payments talks to the emulator in its own pod, which signs with the secret payments checks', () => {
    const pod = named(objs, 'Deployment', 'payments').spec.template.spec;
    const emulator = pod.containers.find((c) => binaryOf(c) === 'stripe-emulator');
    assert.ok(emulator, 'the emulator container');
    const env = environment(objs, emulator);
    for (const name of env.keys()) {
      const base = name.replace(/_FILE$/, '');
      assert.ok(options['stripe-emulator'].some((o) => o.name === base), `emulator: ${name} is an option`);
    }
    const payments = environment(objs, pod.containers.find((c) => c.name === 'payments'));
    assert.equal(payments.get('STRIPE_API_BASE').value, `http://127.0.0.1:${portOf(env.get('LISTEN_ADDRESS').value)}`);
    assert.equal(env.get('WEBHOOK_URL').value, `http://127.0.0.1:${portOf(payments.get('WEBHOOK_LISTEN_ADDRESS').value)}/stripe/webhook`);
    assert.equal(env.get('WEBHOOK_SECRETS_FILE').value, payments.get('STRIPE_WEBHOOK_SECRETS_FILE').value);
    assert.equal(env.get('API_KEYS_FILE').value, payments.get('STRIPE_SECRET_KEY_FILE').value);
    const r = checkConfig(objs, named(objs, 'Deployment', 'payments'), emulator);
    assert.equal(r.status, 0, r.stderr);
  });
  it('email and SMS go to the dev sinks', () => {
    const env = environment(objs, named(objs, 'Deployment', 'notify').spec.template.spec.containers[0]);
    const sinks = named(objs, 'Service', 'dev-sinks');
    const port = (n) => sinks.spec.ports.find((p) => p.name === n).port;
    assert.equal(env.get('SMTP_URL').value, `smtp://dev-sinks:${port('smtp')}`);
    assert.equal(env.get('SMS_API_BASE').value, `http://dev-sinks:${port('sms')}`);
    assert.equal(env.get('EMAIL_TRANSPORT').value, 'smtp');
    assert.equal(env.get('SMS_TRANSPORT').value, 'twilio');
  });
});

describe('prod: replicas spread out, real Stripe, mTLS, bearer tokens, the webhook Ingress', () => {
  const objs = rendered.prod;
  it('two or more replicas with anti-affinity', () => {
    for (const svc of SERVICES) {
      const d = named(objs, 'Deployment', svc);
      assert.equal(d.spec.replicas, undefined, `${svc}: the HPA owns the replica count`);
      assert.ok(ofKind(objs, 'HorizontalPodAutoscaler').find((h) => h.metadata.name === svc).spec.minReplicas >= 2);
      const anti = d.spec.template.spec.affinity?.podAntiAffinity;
      const terms = [...(anti?.preferredDuringSchedulingIgnoredDuringExecution || []).map((t) => t.podAffinityTerm),
        ...(anti?.requiredDuringSchedulingIgnoredDuringExecution || [])];
      assert.ok(terms.some((t) => t.topologyKey === 'kubernetes.io/hostname' &&
        matches(t.labelSelector, d.spec.template.metadata.labels)), `${svc}: anti-affinity on its own pods`);
      assert.ok(!d.spec.template.spec.containers.some((c) => binaryOf(c) === 'stripe-emulator'));
      assert.ok(d.spec.template.spec.containers.every((c) => c.image.includes('/billing/') && /:[^:]+$/.test(c.image)),
        `${svc}: images from a registry, with a tag`);
    }
    assert.ok(!objs.some((o) => o.kind === 'StatefulSet' || o.kind === 'Secret'), 'no in-cluster database, no Secrets in git');
  });
  it('the external database is verified against its CA', () => {
    for (const svc of SERVICES) {
      const dep = named(objs, 'Deployment', svc);
      for (const c of allContainers(dep).filter((x) => binaryOf(x))) {
        const file = mountedFile(dep, c, '/var/run/secrets/billing-db/ca.crt');
        assert.deepEqual(file, { secret: 'billing-db-ca', key: 'ca.crt' }, `${svc}/${c.name}`);
      }
    }
    assert.match(readText('docs/operations.md'), /sslmode=verify-full&sslrootcert=\/var\/run\/secrets\/billing-db\/ca\.crt/);
  });
  it('site settings are set, not the binaries\' test defaults', () => {
    const env = environment(objs, named(objs, 'Deployment', 'notify').spec.template.spec.containers[0]);
    const from = env.get('SMS_FROM_NUMBER')?.value;
    assert.ok(from && from !== options.notify.find((o) => o.name === 'SMS_FROM_NUMBER').default,
      'not Twilio\'s test number');
  });
  it('the real Stripe over https', () => {
    const env = environment(objs, named(objs, 'Deployment', 'payments').spec.template.spec.containers[0]);
    assert.equal(env.get('STRIPE_API_BASE').value, 'https://api.stripe.com');
  });
  it('mTLS everywhere, with certificates cert-manager issues', () => {
    for (const svc of SERVICES) {
      const dep = named(objs, 'Deployment', svc);
      const c = dep.spec.template.spec.containers.find((x) => x.name === svc);
      const env = environment(objs, c);
      // Client certificates wherever the binary dials another service.
      const wanted = ['TLS_CERT_FILE', 'TLS_KEY_FILE', 'TLS_CLIENT_CA_FILE', 'CLIENT_TLS_CA_FILE',
        'CLIENT_TLS_CERT_FILE', 'CLIENT_TLS_KEY_FILE'].filter((n) => options[svc].some((o) => o.name === n));
      assert.ok(wanted.length >= 3);
      for (const name of wanted) {
        const file = mountedFile(dep, c, env.get(name)?.value || '');
        assert.ok(file, `${svc}: ${name} is a file in a mounted Secret`);
        assert.ok(certificateSecrets(objs).has(file.secret), `${svc}: ${file.secret} comes from a Certificate`);
      }
      const cert = ofKind(objs, 'Certificate').find((x) => x.spec.secretName === `${svc}-tls`);
      assert.ok(cert.spec.dnsNames.includes(svc), `${svc}: the certificate names the address clients dial`);
      assert.ok(cert.spec.usages.includes('server auth') && cert.spec.usages.includes('client auth'));
    }
  });
  it('every service demands bearer tokens, and each caller sends its own, all from Secret files', () => {
    const fileOf = (svc, name) => {
      const dep = named(objs, 'Deployment', svc);
      const c = dep.spec.template.spec.containers.find((x) => x.name === svc);
      const file = mountedFile(dep, c, environment(objs, c).get(name)?.value || '');
      assert.ok(file, `${svc}: ${name} is a file in a mounted Secret`);
      assert.equal(file.secret, `${svc}-secrets`, `${svc}: ${name}`);
      assert.ok(secretKeys(objs, file.secret).has(file.key), `${svc}: the runbook lists ${file.secret}/${file.key}`);
      return file;
    };
    for (const svc of SERVICES) fileOf(svc, 'CALLER_TOKENS_FILE');
    // Whoever dials another service presents a token to it.
    fileOf('invoice', 'NOTIFY_TOKEN_FILE');
    fileOf('invoice', 'PAYMENTS_TOKEN_FILE');
    fileOf('payments', 'INVOICE_TOKEN_FILE');
  });
  it('the Ingress publishes only the webhook path, to payments\' webhook port', () => {
    const ing = ofKind(objs, 'Ingress');
    assert.equal(ing.length, 1);
    const paths = ing[0].spec.rules.flatMap((r) => r.http.paths);
    assert.deepEqual(paths.map((p) => [p.path, p.pathType, p.backend.service.name, p.backend.service.port.name]),
      [['/stripe/webhook', 'Exact', 'payments', 'webhook']]);
    assert.ok(ing[0].spec.tls?.length, 'TLS at the edge');
  });
  it('ServiceMonitors scrape each metrics port', () => {
    for (const svc of SERVICES) {
      const sm = named(objs, 'ServiceMonitor', svc);
      assert.ok(sm && matches(sm.spec.selector, named(objs, 'Service', svc).metadata.labels));
      assert.equal(sm.spec.endpoints[0].port, 'metrics');
    }
  });
});
