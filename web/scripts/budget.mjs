// First-load budget: the JavaScript that dist/index.html loads before anything else (its module
// script and modulepreload links, which include the chunks they import statically), gzipped.
// Lazy page chunks are not counted: they load when the rep opens that page.
// Run by `npm run build`; fails the build when the budget is exceeded.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET_KB = 300;
const dist = new URL('../dist/', import.meta.url).pathname;
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const srcs = new Set();
for (const m of html.matchAll(/<script[^>]*type="module"[^>]*src="([^"]+)"/g)) srcs.add(m[1]);
for (const m of html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)) srcs.add(m[1]);
if (srcs.size === 0) {
  console.error('budget: no module script found in dist/index.html');
  process.exit(1);
}
let total = 0;
for (const src of srcs) {
  const bytes = gzipSync(readFileSync(join(dist, src.replace(/^\//, '')))).length;
  total += bytes;
  console.log(`budget: ${src} ${(bytes / 1024).toFixed(1)} KB gzipped`);
}
const kb = total / 1024;
console.log(`budget: first-load JavaScript ${kb.toFixed(1)} KB gzipped (budget ${BUDGET_KB} KB)`);
if (kb > BUDGET_KB) {
  console.error(`budget: over by ${(kb - BUDGET_KB).toFixed(1)} KB`);
  process.exit(1);
}
