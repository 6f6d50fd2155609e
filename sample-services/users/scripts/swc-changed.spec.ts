// scripts/swc-changed.js, devstack's build of this service on every save: it writes what the swc CLI
// writes, transpiles only what changed and keeps dist/ in step with src/ (deletions too).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const here = path.resolve(__dirname, '..');
const script = path.join(here, 'scripts', 'swc-changed.js');
const swcCli = path.join(here, 'node_modules', '.bin', 'swc');

function tree(dir: string, ext: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith(ext)) out[path.relative(dir, p)] = fs.readFileSync(p, 'utf8');
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

describe('swc-changed', () => {
  let dir: string;
  const run = (...args: string[]) => execFileSync('node', [script, '-v', ...args, dir], { encoding: 'utf8' }).trim();
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swc-changed-'));
    fs.copyFileSync(path.join(here, '.swcrc'), path.join(dir, '.swcrc'));
    write('src/main.ts', "import { greet } from './lib/greet';\nconsole.log(greet('a'));\n");
    write('src/lib/greet.ts', 'export const greet = (n: string): string => `hi ${n}`;\n');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes the JavaScript the swc CLI writes', () => {
    expect(run()).toBe('swc-changed: 2 transpiled, 0 removed');
    execFileSync(swcCli, ['src', '-d', 'cli-dist', '--strip-leading-paths', '--quiet'], { cwd: dir });
    expect(tree(path.join(dir, 'dist'), '.js')).toEqual(tree(path.join(dir, 'cli-dist'), '.js'));
    expect(Object.keys(tree(path.join(dir, 'dist'), '.map')).sort()).toEqual(['lib/greet.js.map', 'main.js.map']);
    const map = JSON.parse(fs.readFileSync(path.join(dir, 'dist', 'lib', 'greet.js.map'), 'utf8'));
    expect(map.sources).toEqual(['../../src/lib/greet.ts']);
    expect(execFileSync('node', [path.join(dir, 'dist', 'main.js')], { encoding: 'utf8' })).toBe('hi a\n');
  });

  it('transpiles only what changed, and again what was rewritten or deleted in dist/', () => {
    run();
    expect(run()).toBe('swc-changed: 0 transpiled, 0 removed');
    write('src/lib/greet.ts', 'export const greet = (n: string): string => `hello ${n}`;\n');
    expect(run()).toBe('swc-changed: 1 transpiled, 0 removed');
    expect(execFileSync('node', [path.join(dir, 'dist', 'main.js')], { encoding: 'utf8' })).toBe('hello a\n');
    fs.rmSync(path.join(dir, 'dist', 'main.js'));
    expect(run()).toBe('swc-changed: 1 transpiled, 0 removed');
    fs.writeFileSync(path.join(dir, 'dist', 'main.js'), 'stale');
    fs.utimesSync(path.join(dir, 'dist', 'main.js'), new Date(0), new Date(0));
    expect(run()).toBe('swc-changed: 1 transpiled, 0 removed');
    expect(fs.readFileSync(path.join(dir, 'dist', 'main.js'), 'utf8')).toContain('greet');
  });

  it('removes the output of a deleted source', () => {
    write('src/old.ts', 'export const old = 1;\n');
    run();
    expect(fs.existsSync(path.join(dir, 'dist', 'old.js'))).toBe(true);
    fs.rmSync(path.join(dir, 'src', 'old.ts'));
    expect(run()).toBe('swc-changed: 0 transpiled, 2 removed');
    expect(fs.existsSync(path.join(dir, 'dist', 'old.js'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'dist', 'old.js.map'))).toBe(false);
  });

  it('transpiles everything again when .swcrc changes', () => {
    run();
    const rc = JSON.parse(fs.readFileSync(path.join(dir, '.swcrc'), 'utf8'));
    rc.sourceMaps = false;
    fs.writeFileSync(path.join(dir, '.swcrc'), JSON.stringify(rc));
    expect(run()).toBe('swc-changed: 2 transpiled, 2 removed');
    expect(Object.keys(tree(path.join(dir, 'dist'), '.map'))).toEqual([]);
  });
});
