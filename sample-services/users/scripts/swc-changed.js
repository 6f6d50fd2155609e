// Transpiles src/ to dist/ with SWC and this directory's .swcrc, writing what
// `swc src -d dist --strip-leading-paths` writes, but only for the sources whose content changed since
// its last run; the output of a deleted source is deleted. devstack's build runs it on every save, so a
// reload pays for one file's transpile instead of the whole tree's. No type check: that is
// `npm run build` and `npm run lint:types`.
//
// What it did last is in dist/.swc-changed.json (each source's hash and outputs, and a key of the
// .swcrc and @swc/core version: when that changes, everything is transpiled again). An output that is
// missing or was rewritten since (say by `nest build`) is written again. Usage:
//   node scripts/swc-changed.js [-v] [--all] [dir]   (dir: the service's directory, default this one)
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const args = process.argv.slice(2);
const root = path.resolve(args.find((a) => !a.startsWith('-')) ?? path.join(__dirname, '..'));
const srcDir = path.join(root, 'src');
const outDir = path.join(root, 'dist');
const manifestPath = path.join(outDir, '.swc-changed.json');
const exts = { '.ts': '.js', '.mts': '.mjs', '.cts': '.cjs', '.js': '.js', '.jsx': '.js', '.tsx': '.js', '.mjs': '.mjs', '.cjs': '.cjs' };

const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');

function sources(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (e.isFile() && exts[path.extname(e.name)]) out.push(p); // .d.ts too, as the swc CLI does
  }
  return out;
}

function mtimeOf(p) {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return -1;
  }
}

function readManifest(key) {
  try {
    const m = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
    if (m.key === key && m.files) return m;
    return { key, files: {}, stale: m.files || {} };
  } catch {
    return { key, files: {} };
  }
}

function transpile(swc, file, rel) {
  const dest = path.join(outDir, rel.slice(0, -path.extname(rel).length) + exts[path.extname(rel)]);
  const sourceFileName = path.relative(path.dirname(dest), file).split(path.sep).join('/');
  const out = swc.transformFileSync(file, { sourceFileName, outputPath: dest, swcrc: true, cwd: root });
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const { mode } = fs.statSync(file);
  let code = out.code;
  const written = [dest];
  if (out.map) {
    const map = JSON.parse(out.map);
    map.sources[0] = sourceFileName;
    code += `\n//# sourceMappingURL=${path.basename(dest)}.map`;
    fs.writeFileSync(dest + '.map', JSON.stringify(map), { mode });
    written.push(dest + '.map');
  }
  fs.writeFileSync(dest, code, { mode });
  return written.map((p) => [path.relative(outDir, p), fs.statSync(p).mtimeMs]);
}

function main() {
  const all = args.includes('--all');
  const swcrc = fs.readFileSync(path.join(root, '.swcrc'));
  const swcVersion = require('@swc/core/package.json').version;
  const key = sha(Buffer.concat([swcrc, Buffer.from('\0' + swcVersion)]));
  const prev = readManifest(key);
  const next = { key, files: {} };
  let swc;
  let done = 0;
  for (const file of sources(srcDir)) {
    const rel = path.relative(srcDir, file);
    const sum = sha(fs.readFileSync(file));
    const was = prev.files[rel];
    if (!all && was && was.sum === sum && was.outputs.every(([o, mtime]) => mtimeOf(path.join(outDir, o)) === mtime)) {
      next.files[rel] = was;
      continue;
    }
    swc ??= require('@swc/core');
    next.files[rel] = { sum, outputs: transpile(swc, file, rel) };
    done++;
  }
  // the outputs of sources that are gone (or that no longer write them)
  let removed = 0;
  const kept = new Set(Object.values(next.files).flatMap((f) => f.outputs.map(([o]) => o)));
  for (const f of Object.values({ ...prev.stale, ...prev.files })) {
    for (const [o] of f.outputs) {
      if (!kept.has(o) && fs.existsSync(path.join(outDir, o))) {
        fs.rmSync(path.join(outDir, o));
        removed++;
      }
    }
  }
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(manifestPath + '.tmp', JSON.stringify(next));
  fs.renameSync(manifestPath + '.tmp', manifestPath);
  if (args.includes('-v')) console.log(`swc-changed: ${done} transpiled, ${removed} removed`);
}

main();
