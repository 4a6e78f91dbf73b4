// Helpers shared by the deployment tests: the built binaries, their --help,
// the Debian packages behind their shared libraries, and kustomize renders.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = process.env.BILLING_BUILD_DIR || path.join(ROOT, 'build');

// The images' binaries, by the name of their Dockerfile in deploy/docker.
export const BINARIES = {
  invoice: process.env.BILLING_INVOICE_BIN || path.join(BUILD, 'services/invoice/invoice'),
  payments: process.env.BILLING_PAYMENTS_BIN || path.join(BUILD, 'services/payments/payments'),
  notify: process.env.BILLING_NOTIFY_BIN || path.join(BUILD, 'services/notify/notify'),
  'stripe-emulator': process.env.BILLING_EMULATOR_BIN || path.join(BUILD, 'tools/stripe-emulator/stripe-emulator'),
};

// Every option a binary knows, from its own --help:
// { name, flag, required, secret, default }.
export function helpOptions(binary) {
  const help = execFileSync(binary, ['--help'], { encoding: 'utf8' });
  const options = [];
  const lines = help.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i].match(/^\s+(--[a-z0-9-]+)\s+\(env ([A-Z0-9_]+)\)(.*)$/);
    if (!m) continue;
    const description = lines[i + 1] || '';
    const def = description.match(/Default: (.*?)\.(?: One of:|$)/);
    options.push({
      flag: m[1],
      name: m[2],
      required: m[3].includes('[required]'),
      secret: m[3].includes('[secret]'),
      default: def ? def[1] : '',
    });
  }
  if (options.length < 5) throw new Error(`${binary} --help listed ${options.length} options`);
  return options;
}

// dpkg -S over many paths at once (one read of dpkg's database, not one per
// file): path -> package, for the paths dpkg knows.
function dpkgOwners(files) {
  const r = spawnSync('dpkg', ['-S', ...files], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const owners = new Map();
  for (const line of r.stdout.split('\n')) {
    const m = line.match(/^([^:\s]+)(?::[a-z0-9]+)?: (\/.*)$/);
    if (m) owners.set(m[2], m[1]);
  }
  return owners;
}

// The Debian packages that own every shared library `ldd` resolves for the
// binary (the whole closure, the dynamic loader included). Debian 12 merged
// /lib into /usr/lib, and dpkg knows each file under one of the two names.
export function lddPackages(binary) {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const libs = [];
  for (const line of out.split('\n')) {
    const m = line.match(/=>\s+(\/\S+)/) || line.match(/^\s+(\/\S+)\s+\(/);
    if (!m) {
      if (line.includes('not found')) throw new Error(`${binary}: ${line.trim()}`);
      continue;  // linux-vdso: the kernel's, not a file
    }
    const candidates = new Set();
    for (const p of [m[1], realpathSync(m[1])]) {
      candidates.add(p);
      if (p.startsWith('/usr/lib/')) candidates.add(p.slice(4));
      if (p.startsWith('/lib/') || p.startsWith('/lib64/')) candidates.add('/usr' + p);
    }
    libs.push({ path: m[1], candidates: [...candidates] });
  }
  const owners = dpkgOwners(libs.flatMap((l) => l.candidates));
  const packages = new Set();
  for (const lib of libs) {
    const owner = lib.candidates.map((c) => owners.get(c)).find(Boolean);
    if (!owner) throw new Error(`${binary}: no Debian package owns ${lib.path}`);
    packages.add(owner);
  }
  return packages;
}

// `kubectl kustomize DIR` as a list of objects.
export function kustomize(dir) {
  const out = execFileSync('kubectl', ['kustomize', dir], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20,
  });
  return YAML.parseAllDocuments(out).map((d) => {
    if (d.errors.length) throw new Error(`${dir}: ${d.errors[0].message}`);
    return d.toJS();
  }).filter(Boolean);
}

export function readText(rel) {
  return readFileSync(path.join(ROOT, rel), 'utf8');
}

export function exists(rel) {
  return existsSync(path.join(ROOT, rel));
}
