// deploy/docker/Dockerfile, checked against the real binaries: each runtime
// stage installs exactly the Debian packages that own the shared libraries
// `ldd` resolves for its binary, runs as a numeric non-root user, starts that
// binary, exposes its default ports, and copies files that exist. The build
// stage installs the same package list as scripts/setup.sh. (No Docker engine
// runs here, so the images themselves are built elsewhere.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BINARIES, ROOT, exists, helpOptions, lddPackages, readText } from './lib.mjs';

// Non-library packages a stage may add, and why.
const EXTRA = {
  payments: ['ca-certificates'],  // TLS to api.stripe.com
  notify: ['ca-certificates'],    // SMTP STARTTLS, the SMS API
};

// Stages: { name: { from, lines: [joined instructions] } }.
function stages(text) {
  const out = {};
  let current = null;
  const joined = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const line of joined) {
    const from = line.match(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i);
    if (from) {
      current = from[2] || `stage${Object.keys(out).length}`;
      out[current] = { from: from[1], lines: [] };
    } else if (current) {
      out[current].lines.push(line);
    }
  }
  return out;
}
function aptPackages(lines) {
  const packages = [];
  for (const line of lines.filter((l) => l.startsWith('RUN '))) {
    for (const m of line.matchAll(/apt-get install ([^&]*)/g)) {
      packages.push(...m[1].split(/\s+/).filter((t) => t && !t.startsWith('-')));
    }
  }
  return packages;
}
const instruction = (lines, name) => lines.filter((l) => l.toUpperCase().startsWith(name + ' ')).map((l) => l.slice(name.length + 1).trim());

const dockerfile = stages(readText('deploy/docker/Dockerfile'));

describe('Dockerfile', () => {
  it('has a build stage, a runtime base and one target per image', () => {
    for (const s of ['build', 'runtime', ...Object.keys(BINARIES), 'dev-sinks']) assert.ok(dockerfile[s], `stage ${s}`);
    assert.match(readText('deploy/docker/Dockerfile'), /ARG DEBIAN_BUILD_IMAGE=debian:bookworm\n/);
    assert.match(readText('deploy/docker/Dockerfile'), /ARG DEBIAN_IMAGE=debian:bookworm-slim\n/);
    // A build without --target must not quietly produce some image.
    const last = Object.entries(dockerfile).at(-1);
    assert.equal(last[0], 'choose-a-target');
    assert.match(last[1].lines.join('\n'), /exit 1/);
  });

  it('the build stage installs the package list scripts/setup.sh installs', () => {
    const build = dockerfile.build.lines.join('\n');
    assert.match(build, /COPY deploy\/docker\/build-packages\.txt/);
    assert.match(build, /xargs apt-get install/);
    assert.match(readText('scripts/setup.sh'), /deploy\/docker\/build-packages\.txt/);
    assert.match(build, /-DBILLING_BUILD_TESTS=OFF/);
    for (const target of Object.keys(BINARIES)) assert.ok(build.includes(` ${target}`), `builds ${target}`);
  });

  for (const [target, binary] of Object.entries(BINARIES)) {
    it(`${target}: the runtime packages are exactly ldd's`, () => {
      const stage = dockerfile[target];
      assert.equal(stage.from, 'runtime');
      const listed = aptPackages(stage.lines);
      assert.equal(new Set(listed).size, listed.length, 'no package listed twice');
      const extra = EXTRA[target] || [];
      const libs = new Set(listed.filter((p) => !extra.includes(p)));
      const needed = lddPackages(binary);
      const missing = [...needed].filter((p) => !libs.has(p)).sort();
      const unneeded = [...libs].filter((p) => !needed.has(p)).sort();
      assert.deepEqual({ missing, unneeded }, { missing: [], unneeded: [] },
        `${target}: the runtime stage must list exactly ${[...needed].sort().join(' ')}`);
      for (const e of extra) assert.ok(listed.includes(e), `${target}: ${e}`);
      assert.ok(!listed.some((p) => p.endsWith('-dev')), 'no -dev packages at run time');
    });

    it(`${target}: runs its binary as a numeric non-root user and exposes its ports`, () => {
      const lines = dockerfile[target].lines;
      const user = instruction(lines, 'USER').at(-1);
      assert.match(user, /^[1-9]\d*:[1-9]\d*$/, 'numeric UID:GID, so runAsNonRoot can verify it');
      const entry = JSON.parse(instruction(lines, 'ENTRYPOINT').at(-1));
      assert.deepEqual(entry, [`/usr/local/bin/${target}`]);
      assert.ok(instruction(lines, 'COPY').includes(`--from=build /out/${target} /usr/local/bin/${target}`));
      const exposed = new Set(instruction(lines, 'EXPOSE').flatMap((l) => l.split(/\s+/)).map(Number));
      const env = Object.fromEntries(instruction(lines, 'ENV').map((l) => l.split('=')));
      for (const o of helpOptions(binary).filter((x) => x.name.endsWith('LISTEN_ADDRESS') || x.name === 'LISTEN_ADDRESS')) {
        const value = env[o.name] || o.default;
        if (!value) continue;
        assert.ok(exposed.has(Number(value.split(':').at(-1))), `${target}: EXPOSE ${o.name}'s port`);
      }
    });
  }

  it('the build stage\'s sources alone configure, and ninja has every input for the four targets', () => {
    // Exactly what the build stage COPYs into /src, then its cmake line.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'image-src-'));
    try {
      const copies = instruction(dockerfile.build.lines, 'COPY').filter((c) => !c.includes('build-packages'));
      for (const copy of copies) {
        const [src, dst] = copy.split(/\s+/);
        cpSync(path.join(ROOT, src), path.join(dir, dst === './' ? path.basename(src) : dst), { recursive: true });
      }
      const run = dockerfile.build.lines.find((l) => l.includes('cmake -S'));
      const flags = run.match(/cmake -S \. -B \/build (.*?) &&/)[1].split(/\s+/);
      execFileSync('cmake', ['-S', dir, '-B', path.join(dir, 'build'), ...flags], { stdio: 'pipe' });
      const targets = run.match(/--target ([a-z -]+?) &&/)[1].split(/\s+/);
      execFileSync('ninja', ['-C', path.join(dir, 'build'), '-n', ...targets], { stdio: 'pipe' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every COPY source exists; notify ships its templates where TEMPLATE_DIR points', () => {
    for (const [name, stage] of Object.entries(dockerfile)) {
      for (const copy of instruction(stage.lines, 'COPY').filter((c) => !c.startsWith('--from'))) {
        const parts = copy.split(/\s+/);
        for (const src of parts.slice(0, -1)) assert.ok(exists(src), `${name}: COPY ${src}`);
      }
    }
    const notify = dockerfile.notify.lines;
    assert.ok(notify.includes('ENV TEMPLATE_DIR=/usr/share/billing/notify/templates'));
    assert.ok(notify.includes('COPY services/notify/templates /usr/share/billing/notify/templates'));
    for (const svc of ['invoice', 'payments', 'notify']) {
      assert.ok(instruction(dockerfile[svc].lines, 'COPY').includes(`services/${svc}/migrations /usr/share/billing/${svc}/migrations`));
    }
  });

  it('the manifests use exactly the images the Dockerfile makes', () => {
    const yaml = ['base/invoice.yaml', 'base/payments.yaml', 'base/notify.yaml', 'overlays/dev/payments-emulator.yaml',
      'overlays/dev/dev-sinks.yaml'].map((f) => readText(`deploy/k8s/${f}`)).join('\n');
    const images = new Set([...yaml.matchAll(/image: billing\/([a-z-]+)/g)].map((m) => m[1]));
    for (const image of images) assert.ok(dockerfile[image], `billing/${image} has a Dockerfile target`);
  });

  it('the build context leaves out local state', () => {
    const ignore = readText('.dockerignore').split('\n');
    for (const p of ['build', '.local', 'node_modules', '.git']) assert.ok(ignore.includes(p), p);
  });
});
