// Makes the compiled sample import the library by its package name, as an app that installed it does.
//
//   node sample/link-library.mjs [outDir]      (default dist-sample; `npm run build:sample` runs it)
//
// The sample's sources import 'nestjs-cluster-leader' and 'nestjs-cluster-leader/terminus', so they
// can be copied into an app as they are. TypeScript resolves those names to lib/ (tsconfig.json's
// `paths`) and compiles lib/ next to the sample (outDir/lib, outDir/sample/src), but leaves the names
// in the output, and Node does not read `paths`. This writes outDir/package.json: a package named
// nestjs-cluster-leader whose `exports` are the repository's own with ./dist/ swapped for the lib/ just
// compiled. Node then resolves the names by package self-reference (the nearest package.json above
// the importing file is that one), in the repository and in the image alike (sample/Dockerfile copies
// outDir whole). The repository's own `exports` point at dist/, which only `npm run build` makes.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url);
const outDir = process.argv[2] ?? 'dist-sample';
const { name, exports } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));

/**
 * `./dist/x.js` -> `./lib/x.js`, for every target of every export path. Conditions are kept but
 * `types`: the sample's build emits no declarations (TypeScript reads lib/ through `paths`).
 */
function toCompiledLib(target) {
  if (typeof target === 'string') return target.replace(/^\.\/dist\//, './lib/');
  return Object.fromEntries(Object.entries(target).filter(([key]) => key !== 'types').map(([key, value]) => [key, toCompiledLib(value)]));
}

const scope = {
  name,
  private: true,
  description: 'Written by sample/link-library.mjs: the library compiled next to the sample, by its package name.',
  // The compiled files are ES modules: this package.json, not the repository's, now decides.
  type: 'module',
  exports: Object.fromEntries(
    Object.entries(exports)
      .filter(([path]) => path !== './package.json')
      .map(([path, target]) => [path, toCompiledLib(target)]),
  ),
};
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'package.json'), `${JSON.stringify(scope, null, 2)}\n`);
