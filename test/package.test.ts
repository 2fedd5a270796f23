// The package as users get it: `npm pack`, then a new project that installs the tarball offline (its dependencies
// pinned by this repository's lockfile and read from the npm cache), compiles the three examples in strict mode
// against the shipped declaration files alone and runs them; deep imports refused; `import 'byner'` light; the
// installed `byner` command and its dashboard. Packs dist/ as it is: run `npm run build` first.
import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { builtCli, childEnv, ROOT, type RunOptions, type RunResult, runProcess } from './helpers/cli.js';
import { freePort } from './helpers/ferretdb.js';
import { spawnServe } from './live-helpers.js';

interface PackageJson {
  version: string;
  license: string;
  engines: Record<string, string>;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}
interface LockEntry {
  dev?: boolean;
  [field: string]: unknown;
}
interface PackResult {
  filename: string;
  integrity: string;
  files: { path: string }[];
}

const readJson = async <T>(path: string): Promise<T> => JSON.parse(await readFile(path, 'utf8')) as T;

/** npm itself: the one running `npm test` when there is one, else `npm` from PATH. */
function npm(args: string[], opts: RunOptions): Promise<RunResult> {
  const cli = process.env.npm_execpath;
  return cli?.endsWith('.js')
    ? runProcess(process.execPath, [cli, ...args], opts)
    : runProcess('npm', args, opts);
}

/** The environment without `npm test`'s own npm_* settings (the cache location kept), so npm behaves as for a user. */
function npmEnv(): NodeJS.ProcessEnv {
  const env = childEnv();
  for (const key of Object.keys(env))
    if (key.startsWith('npm_') && key !== 'npm_config_cache') delete env[key];
  return env;
}

/**
 * package.json and package-lock.json of a project that depends on the tarball and on @types/node. The lockfile
 * takes every non-development package of this repository's lockfile (so `npm ci --offline` finds each one in the
 * npm cache by its integrity and needs no registry metadata), and the tarball itself by its integrity.
 */
async function consumerProject(dir: string, pack: PackResult): Promise<void> {
  const pkg = await readJson<PackageJson>(join(ROOT, 'package.json'));
  const lock = await readJson<{ packages: Record<string, LockEntry> }>(join(ROOT, 'package-lock.json'));
  const tarball = `file:${pack.filename}`;
  const project = {
    name: 'byner-consumer',
    version: '1.0.0',
    private: true,
    type: 'module',
    dependencies: { byner: tarball },
    devDependencies: { '@types/node': pkg.devDependencies['@types/node'] },
  };
  const packages: Record<string, unknown> = {
    '': {
      name: project.name,
      version: project.version,
      dependencies: project.dependencies,
      devDependencies: project.devDependencies,
    },
    'node_modules/byner': {
      version: pkg.version,
      resolved: tarball,
      integrity: pack.integrity,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages))
    if (path !== '' && !entry.dev) packages[path] = entry;
  for (const path of ['node_modules/@types/node', 'node_modules/undici-types']) {
    assert.ok(lock.packages[path], `package-lock.json has no ${path}`);
    packages[path] = { ...lock.packages[path], dev: true };
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify(project, null, 2));
  writeFileSync(
    join(dir, 'package-lock.json'),
    JSON.stringify(
      { name: project.name, version: project.version, lockfileVersion: 3, requires: true, packages },
      null,
      2,
    ),
  );
}

/** Strict, NodeNext, no DOM, library files checked too: the shipped declarations must hold up on their own. */
const CONSUMER_TSCONFIG = {
  compilerOptions: {
    strict: true,
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    target: 'ES2022',
    lib: ['ES2023'],
    types: ['node'],
    rootDir: 'src',
    outDir: 'out',
    skipLibCheck: false,
    noEmitOnError: true,
  },
  include: ['src'],
};

/** A resolve hook that reports every module URL to the importing thread (see PROBE). */
const HOOKS = `let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  port.postMessage(result.url);
  return result;
}
`;

/**
 * Imports byner and prints, as JSON: the packages it loaded (every resolved URL, ESM and CommonJS packages alike,
 * through the hook above), the files open and the active handles before and after, and the names it exports.
 */
const PROBE = `import { readdirSync, readlinkSync } from 'node:fs';
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const urls = [];
const MARK = 'data:text/javascript,export default 1';
const marked = new Promise((resolve) => port1.on('message', (u) => (u === MARK ? resolve() : urls.push(u))));
register('./hooks.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });
const files = () =>
  readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync('/proc/self/fd/' + fd);
      return target.startsWith('/') ? [target] : [];
    } catch {
      return [];
    }
  });
const before = { files: files(), resources: process.getActiveResourcesInfo() };
const api = await import(process.argv[2]);
const after = { files: files(), resources: process.getActiveResourcesInfo() };
await import(MARK); // the hook reports in order: once MARK arrives, every URL before it has
await marked;
port1.close();
const packages = [...new Set(urls.flatMap((u) => u.match(/\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//)?.[1] ?? []))];
console.log(JSON.stringify({ names: Object.keys(api), packages: packages.sort(), before, after }));
`;

/** Runtime dependencies that must not load when byner is imported: the store, the server, plots, the CLI's. */
const LAZY_PACKAGES = [
  'better-sqlite3',
  'mongodb',
  'fastify',
  'pino',
  'pino-pretty',
  'zod',
  'vega',
  'vega-lite',
  '@resvg/resvg-js',
  'commander',
  'cli-progress',
  'csv-parse',
];

describe('the packed package, installed into a new project', () => {
  let tmp = '';
  let project = '';
  let pack: PackResult;
  const inProject = (opts: RunOptions = {}): RunOptions => ({ cwd: project, env: childEnv(), ...opts });
  const node = (args: string[], opts: RunOptions = {}) => runProcess(process.execPath, args, inProject(opts));

  before(
    async () => {
      builtCli(); // throws, saying to run `npm run build`, when dist/ is older than the sources
      tmp = mkdtempSync(join(tmpdir(), 'byner-package-'));
      project = join(tmp, 'project');
      mkdirSync(join(project, 'src'), { recursive: true });
      // --ignore-scripts: `prepare` would rebuild dist/, which builtCli() found current.
      const packed = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', project], {
        cwd: ROOT,
        env: npmEnv(),
      });
      assert.equal(packed.code, 0, packed.stderr);
      [pack] = JSON.parse(packed.stdout) as PackResult[];
      await consumerProject(project, pack);
      // Offline, from the npm cache. --ignore-scripts: better-sqlite3's install script would download or compile
      // its binary; the one this repository's install built is copied instead (same version: the same lockfile).
      const installed = await npm(['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], {
        cwd: project,
        env: npmEnv(),
        timeoutMs: 240_000,
      });
      assert.equal(
        installed.code,
        0,
        `npm ci --offline failed: ${installed.stderr}\n` +
          'The dependencies are read from the npm cache: run `npm ci` in this repository (online) once to fill it.',
      );
      const binary = join('node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
      mkdirSync(join(project, binary, '..'), { recursive: true });
      copyFileSync(join(ROOT, binary), join(project, binary));
      for (const name of readdirSync(join(ROOT, 'examples')).filter((n) => n.endsWith('.ts'))) {
        copyFileSync(join(ROOT, 'examples', name), join(project, 'src', name));
      }
      writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG, null, 2));
      writeFileSync(join(project, 'hooks.mjs'), HOOKS);
      writeFileSync(join(project, 'probe.mjs'), PROBE);
    },
    { timeout: 300_000 },
  );

  after(() => {
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  });

  it('ships the compiled code with its declarations, the kernels, the workers and the dashboard; no sources', () => {
    const files = new Set(pack.files.map((f) => f.path));
    for (const file of [
      'package.json',
      'README.md',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/engine/index.d.ts',
      'dist/indicators/index.d.ts',
      'dist/cli/main.js',
      'dist/wasm/lstm.wasm',
      'dist/engine/worker.js',
      'dist/engine/forecast-worker.js',
      'dist/dashboard-assets/index.html',
    ]) {
      assert.ok(files.has(file), `the tarball lacks ${file}`);
    }
    const stray = [...files].filter(
      (f) => !(f.startsWith('dist/') || f === 'package.json' || f === 'README.md'),
    );
    assert.deepEqual(stray, []);
    // Every compiled file comes from a source that exists: the build empties dist/ first.
    const orphans = [...files].filter((f) => {
      const compiled = f.match(/^dist\/(.+?)(?:\.d\.ts|\.js)$/);
      return (
        compiled !== null &&
        !f.startsWith('dist/dashboard-assets/') &&
        !existsSync(join(ROOT, 'src', `${compiled[1]}.ts`))
      );
    });
    assert.deepEqual(orphans, []);
    // The compiled code's source maps point at src/, which is not shipped; the dashboard's bundle maps are served.
    assert.deepEqual(
      [...files].filter((f) => f.endsWith('.map') && !f.startsWith('dist/dashboard-assets/')),
      [],
    );
  });

  it('compiles the examples in strict mode with the shipped declaration files only', async () => {
    const tsc = await node([join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
    assert.equal(tsc.code, 0, tsc.stdout + tsc.stderr);
    assert.ok(existsSync(join(project, 'out', 'live-forecasts.js')));
  });

  it('example 1 trains on its own windows and saves; example 2 loads, forecasts, and agrees on two threads', async () => {
    const dir = join(tmp, 'model');
    const trained = await node(['out/train-and-save.js', dir]);
    assert.equal(trained.code, 0, trained.stderr);
    assert.match(trained.stdout, /^epoch 1: loss \d/m);
    assert.match(trained.stdout, /saved to /);
    assert.ok(existsSync(join(dir, 'model.json')) && existsSync(join(dir, 'weights.bin')));

    const loaded = await node(['out/load-and-forecast.js', dir]);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.match(loaded.stdout, /^loaded .*: window 24, features 2, horizon 5$/m);
    assert.match(loaded.stdout, /^forecast( -?\d+\.\d{3}){5}$/m);
    const mse = Number(loaded.stdout.match(/batch of 100: MSE (\S+)/)?.[1]);
    assert.ok(mse < 0.05, `the trained model forecasts the wave (MSE ${mse}; the wave's variance is ≈ 0.5)`);
    assert.match(loaded.stdout, /two threads: same forecast/);

    const missing = await node(['out/load-and-forecast.js', join(tmp, 'no-model')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read model\.json[\s\S]*expected: a readable model\.json/);
  });

  it('example 3 streams /realtime_data from its own server and prints live forecasts, then stops', async () => {
    const live = await node(['out/live-forecasts.js', '5'], { timeoutMs: 60_000 });
    assert.equal(live.code, 0, live.stderr);
    assert.match(live.stdout, /^streaming on http:\/\/127\.0\.0\.1:\d+\/realtime_data$/m);
    const lines = live.stdout.match(/^seq \d+: price -?\d+ → next 5:( -?\d+\.\d\d){5}$/gm) ?? [];
    assert.equal(lines.length, 5, live.stdout);
    assert.match(live.stdout, /^\d+ forecasts, \d+ scored; MSE per horizon /m);
  });

  it('opens only its entries: deep imports are refused, byner/engine and byner/indicators work', async () => {
    const deep = await node(['--input-type=module', '-e', "await import('byner/dist/engine/index.js')"]);
    assert.notEqual(deep.code, 0);
    assert.match(deep.stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/);
    const subpaths = await node([
      '--input-type=module',
      '-e',
      "const e = await import('byner/engine'); const i = await import('byner/indicators'); const r = await import('byner');" +
        'console.log(typeof e.createModel, typeof i.IndicatorStream, e.LstmModel === r.LstmModel)',
    ]);
    assert.equal(subpaths.code, 0, subpaths.stderr);
    assert.equal(subpaths.stdout.trim(), 'function function true');
  });

  it('imports without starting anything, keeping a file open, or loading the store, server and plot code', async (t) => {
    const probe = await node(['probe.mjs', 'byner']);
    assert.equal(probe.code, 0, probe.stderr);
    const {
      names,
      packages,
      before: was,
      after: now,
    } = JSON.parse(probe.stdout) as {
      names: string[];
      packages: string[];
      before: { files: string[]; resources: string[] };
      after: { files: string[]; resources: string[] };
    };
    for (const name of ['createModel', 'loadModel', 'LstmModel', 'computeIndicators', 'IndicatorStream']) {
      assert.ok(names.includes(name), `byner exports ${name}`);
    }
    for (const name of [
      'newModel',
      'openStore',
      'startServer',
      'runInference',
      'BynerError',
      'BYNER_ERROR_CODES',
    ]) {
      assert.ok(names.includes(name), `byner exports ${name}`);
    }
    assert.deepEqual(
      packages.filter((p) => LAZY_PACKAGES.includes(p)),
      [],
      `importing byner loads ${packages.join(', ')}`,
    );
    assert.deepEqual(now.files.sort(), was.files.sort(), 'files held open after the import');
    const added = [...now.resources];
    for (const r of was.resources) added.splice(added.indexOf(r), added.includes(r) ? 1 : 0);
    assert.deepEqual(added, [], 'handles or timers the import left active');
    const timed = await node([
      '--input-type=module',
      '-e',
      "const t = performance.now(); await import('byner'); console.log((performance.now() - t).toFixed(1))",
    ]);
    t.diagnostic(`import('byner') took ${timed.stdout.trim()} ms; packages loaded: ${packages.join(', ')}`);
  });

  it('runs the installed byner command, and the dashboard finds its assets', async () => {
    const help = await runProcess(join(project, 'node_modules', '.bin', 'byner'), ['--help'], inProject());
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /serve/);

    const port = await freePort();
    const main = join(project, 'node_modules', 'byner', 'dist', 'cli', 'main.js');
    const serve = await spawnServe(
      ['--port', String(port)],
      { BYNER_DATA_DIR: join(tmp, 'serve-data') },
      { main },
    );
    try {
      const page = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(page.status, 200);
      const html = await page.text();
      const script = html.match(/src="\/?(assets\/app-[A-Z0-9]{8}\.js)"/)?.[1];
      assert.ok(script, `the page names its script: ${html.slice(0, 300)}`);
      const asset = await fetch(`http://127.0.0.1:${port}/${script}`);
      assert.equal(asset.status, 200);
      assert.ok((await asset.text()).length > 1000);
    } finally {
      serve.child.kill('SIGTERM');
      assert.equal(await serve.exited, 0, serve.stderr());
    }
  });
});
