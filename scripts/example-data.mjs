// Copies the example price series shipped in examples/series/ from the `vega-datasets` npm package, checking the
// file's hash against the package's own datapackage.json. The package is not a dependency of byner: install it
// for this script only (npm install --no-save vega-datasets@3.2.1), run `node scripts/example-data.mjs`.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGE = 'vega-datasets';
const VERSION = '3.2.1';
/** NOAA NCDC 1981-2010 hourly climate normals for Seattle (a U.S. Government work: public domain). */
const FILE = 'seattle-weather-hourly-normals.csv';

const pkgDir = join(root, 'node_modules', PACKAGE);
if (!existsSync(join(pkgDir, 'package.json'))) {
  console.error(
    `example-data: ${PACKAGE} is not installed. Run: npm install --no-save ${PACKAGE}@${VERSION}`,
  );
  process.exit(1);
}
const { version } = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
if (version !== VERSION) {
  console.error(
    `example-data: expected ${PACKAGE} ${VERSION}, found ${version}. Run: npm install --no-save ${PACKAGE}@${VERSION}`,
  );
  process.exit(1);
}
const meta = JSON.parse(readFileSync(join(pkgDir, 'datapackage.json'), 'utf8'));
const entry = meta.resources.find((r) => r.path === FILE);
const bytes = readFileSync(join(pkgDir, 'data', FILE));
// datapackage.json holds git's blob hash: SHA-1 of "blob <size>\0" followed by the bytes
const sha1 = `sha1:${createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex')}`;
if (entry?.hash !== sha1) {
  console.error(`example-data: ${FILE} has ${sha1}, datapackage.json says ${entry?.hash}`);
  process.exit(1);
}
const out = join(root, 'examples', 'series');
mkdirSync(out, { recursive: true });
copyFileSync(join(pkgDir, 'data', FILE), join(out, FILE));
console.error(
  `example-data: ${FILE} (${bytes.length} bytes, ${sha1}) → examples/series/; license: ${entry.licenses.map((l) => l.title).join(', ')}; source: ${entry.sources.map((s) => s.title).join(', ')}`,
);
