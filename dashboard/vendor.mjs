// Copy the ESM files the dashboard imports from node_modules into the Python package.
//
// The browser loads them as plain ES modules (no bundler, no CDN), so only the files
// reachable from the entry points below are copied, byte for byte, with their licences.
// Run through `make dashboard-assets` (npm ci + this script); commit the result.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'colonies_ha', 'dashboard', 'static', 'vendor');
const packages = {
  '@noble/secp256k1': { dir: 'noble-secp256k1', entries: ['index.js'] },
  '@noble/hashes': { dir: 'noble-hashes', entries: ['sha3.js', 'sha2.js', 'hmac.js', 'utils.js'] },
};

/** Relative imports of an ES module ("./x.js"); bare imports would need a bundler. */
function relativeImports(source) {
  const found = [];
  for (const match of source.matchAll(/^(?:import|export)[^;'"]*?from\s*['"]([^'"]+)['"]/gm)) {
    if (!match[1].startsWith('./')) {
      throw new Error(`bare import ${match[1]} cannot be served without a bundler`);
    }
    found.push(match[1].slice(2));
  }
  return found;
}

rmSync(out, { recursive: true, force: true });
const versions = {};
for (const [name, { dir, entries }] of Object.entries(packages)) {
  const src = join(here, 'node_modules', name);
  const dst = join(out, dir);
  mkdirSync(dst, { recursive: true });
  const pending = [...entries];
  const done = new Set();
  while (pending.length) {
    const file = pending.pop();
    if (done.has(file)) continue;
    done.add(file);
    pending.push(...relativeImports(readFileSync(join(src, file), 'utf8')));
    copyFileSync(join(src, file), join(dst, file));
  }
  copyFileSync(join(src, 'LICENSE'), join(dst, 'LICENSE'));
  versions[name] = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8')).version;
  console.log(`${name} ${versions[name]}: ${[...done].sort().join(', ')} -> ${relative(here, dst)}`);
}
writeFileSync(join(out, 'VERSIONS.json'), JSON.stringify(versions, null, 2) + '\n');
