// Build step of the dashboard (run by scripts/build.mjs after tsc): bundles src/dashboard/web (the page's
// TypeScript, its CSS and uPlot's) with esbuild into dist/dashboard-assets/ under content-hashed names, and
// writes index.html pointing at them. Serving the folder is src/dashboard/routes.ts's job.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'src', 'dashboard', 'web');
const out = join(root, 'dist', 'dashboard-assets');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints: { app: join(web, 'app.ts') },
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome110', 'firefox110', 'safari16'],
  minify: true,
  sourcemap: 'linked',
  entryNames: '[name]-[hash]',
  outdir: out,
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const pick = (ext) => {
  const names = outputs.filter((n) => n.startsWith('app-') && n.endsWith(ext));
  if (names.length !== 1)
    throw new Error(`expected one app-*${ext} from esbuild, got: ${outputs.join(', ')}`);
  return names[0];
};
const html = readFileSync(join(web, 'index.html'), 'utf8')
  .replace('{{app.js}}', pick('.js'))
  .replace('{{app.css}}', pick('.css'));
if (html.includes('{{'))
  throw new Error('src/dashboard/web/index.html has a placeholder the build does not fill');
writeFileSync(join(out, 'index.html'), html);

// tsc compiled the page's sources into dist/dashboard/web as Node modules: the bundle above replaces them.
rmSync(join(root, 'dist', 'dashboard', 'web'), { recursive: true, force: true });
console.error(`byner build: dashboard → dist/dashboard-assets (${[pick('.js'), pick('.css')].join(', ')})`);
