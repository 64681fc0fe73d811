/*
 * `npx projen test:package`: the packed library as users get it, checked after the
 * build has packed it (dist/js/*.tgz). Needs the npm registry, as `npm ci` does.
 *
 * 1. The tarball holds what apps load and nothing else: every handler's bundle, the
 *    compiled library without the handlers' sources, the jsii assembly and its
 *    translated examples, the docs; every module a shipped file imports is shipped
 *    or is a dependency of the package.
 * 2. A user's app (test/package/app.ts) installs the tarball with the oldest
 *    aws-cdk-lib the library supports (the pinned one) and with the newest on the
 *    registry, compiles against them, synthesizes every construct and fails on a
 *    deprecated API the library calls, a context lookup, a function not on the newest
 *    Node.js runtime that aws-cdk-lib knows, a cdk-nag finding on the library's
 *    resources, or a key inventory missing from the cloud assembly.
 * 3. The Python and Go READMEs that jsii-pacmak makes from the tarball, as the release
 *    workflow does, show those languages' code, not TypeScript.
 */
import { execFileSync } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { builtinModules } from 'module';
import { tmpdir } from 'os';
import { dirname, join, posix, relative, resolve, sep } from 'path';

const ROOT = resolve(__dirname, '..', '..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const BIN = join(ROOT, 'node_modules', '.bin');

function main(): void {
  const dist = join(ROOT, 'dist', 'js');
  const tarballs = filesUnder(dist).filter(file => file.endsWith('.tgz'));
  if (tarballs.length !== 1) {
    fail(`expected one packed library in ${dist}, found ${tarballs.length}: run "npx projen build" (or "npx projen package") first`);
  }
  const tarball = join(dist, tarballs[0]);
  const work = mkdtempSync(join(tmpdir(), 'cdk-kms-constructs-package-'));
  try {
    const contents = checkContents(tarball, work);
    console.log(`package: ${contents.files} files, ${contents.bundles} handler bundles, every import resolves`);
    const versions = Array.from(new Set([PKG.devDependencies['aws-cdk-lib'], newestAwsCdkLib()]));
    let installed = '';
    for (const version of versions) {
      installed = checkApp(tarball, version, join(work, `app-${version}`));
    }
    for (const language of ['python', 'go']) {
      console.log(`${language} README: ${checkReadme(installed, language, join(work, language))}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** What the tarball holds, and that every module its files import is there. */
function checkContents(tarball: string, work: string): { files: number; bundles: number } {
  const files = run('tar', ['tzf', tarball]).split('\n').filter(Boolean).map(file => file.replace(/^package\//, ''));
  const problems: string[] = [];
  const fixed = new Set(['package.json', 'README.md', 'API.md', 'LICENSE', '.jsii', '.jsii.tabl.json']);
  for (const file of files) {
    const allowed = fixed.has(file)
      || (/^lib\/.+\.(js|d\.ts)$/.test(file) && !/\.lambda\.(js|d\.ts)$/.test(file))
      || /^assets\/.+\.lambda\/index\.js$/.test(file);
    if (!allowed) problems.push(`ships ${file}, which no app loads`);
  }
  for (const file of fixed) if (!files.includes(file)) problems.push(`lacks ${file}`);
  const handlers = filesUnder(join(ROOT, 'src')).filter(file => file.endsWith('.lambda.ts'))
    .map(file => posix.join('assets', file.replace(/\.ts$/, ''), 'index.js'));
  for (const bundle of handlers) if (!files.includes(bundle)) problems.push(`lacks the bundle ${bundle}`);

  const unpacked = join(work, 'unpacked');
  mkdirSync(unpacked);
  run('tar', ['xzf', tarball, '-C', unpacked]);
  const shipped = new Set(files);
  const dependencies = new Set([...Object.keys(PKG.dependencies ?? {}), ...Object.keys(PKG.peerDependencies ?? {})]);
  for (const file of files.filter(f => f.startsWith('lib/'))) {
    const text = readFileSync(join(unpacked, 'package', file), 'utf8');
    const specifiers = file.endsWith('.d.ts')
      ? Array.from(text.matchAll(/(?:from\s+|import\()['"]([^'"]+)['"]/g), m => m[1])
      : Array.from(text.matchAll(/require\(['"]([^'"]+)['"]\)/g), m => m[1]);
    for (const specifier of specifiers) {
      if (specifier.startsWith('.')) {
        const base = posix.join(posix.dirname(file), specifier);
        const candidates = file.endsWith('.d.ts') ? [`${base}.d.ts`, `${base}/index.d.ts`] : [`${base}.js`, `${base}/index.js`, base];
        if (!candidates.some(c => shipped.has(c))) problems.push(`${file} imports ${specifier}, which is not shipped`);
      } else {
        const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
        if (!dependencies.has(name) && !builtinModules.includes(name.replace(/^node:/, ''))) {
          problems.push(`${file} imports ${specifier}, which is not a dependency of the package`);
        }
      }
    }
  }
  if (problems.length > 0) fail(`the packed library is wrong:\n  ${problems.join('\n  ')}`);
  return { files: files.length, bundles: handlers.length };
}

/** Installs the tarball with this aws-cdk-lib, runs the user's app, and returns the installed package. */
function checkApp(tarball: string, awsCdkLib: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({
    name: 'package-test-app',
    private: true,
    dependencies: {
      'cdk-kms-constructs': `file:${tarball}`,
      'aws-cdk-lib': awsCdkLib,
      'constructs': PKG.devDependencies.constructs,
      'cdk-nag': PKG.devDependencies['cdk-nag'],
    },
  }, null, 2));
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--no-package-lock'], dir);
  const source = readFileSync(join(__dirname, 'app.ts'), 'utf8').replace(/'\.\.\/\.\.\/src'/g, '\'cdk-kms-constructs\'');
  writeFileSync(join(dir, 'app.ts'), source);
  // Type-checked as a user's TypeScript app is, against the package's declarations.
  run(join(BIN, 'tsc'), [
    'app.ts', '--strict', '--target', 'ES2022', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--skipLibCheck', '--typeRoots', join(ROOT, 'node_modules', '@types'), '--types', 'node', '--outDir', 'out',
  ], dir);
  const output = run(process.execPath, [join(dir, 'out', 'app.js')], dir, { JSII_DEPRECATED: 'warn' });
  const result = JSON.parse(output.trim().split('\n').pop()!);
  if (result.problems.length > 0) {
    fail(`with aws-cdk-lib ${awsCdkLib}, the packed library fails a user's app:\n  ${result.problems.join('\n  ')}`);
  }
  console.log(`aws-cdk-lib ${awsCdkLib}: ${result.stacks} stacks, ${result.resources} resources, `
    + `${result.functions} functions on ${result.runtime}, ${result.inventoriedKeys} keys in the key inventory, no deprecated API called by the library, `
    + `cdk-nag: no finding on the library's resources (${result.nagPacks.join(', ')})`
    + (result.othersDeprecations.length > 0 ? `; deprecated APIs aws-cdk-lib calls itself: ${result.othersDeprecations.length}` : ''));
  return join(dir, 'node_modules', 'cdk-kms-constructs');
}

/** The README jsii-pacmak makes for a language from the installed package, checked for TypeScript. */
function checkReadme(packageDir: string, language: string, outdir: string): string {
  run(join(BIN, 'jsii-pacmak'), [packageDir, '--target', language, '--code-only', '--outdir', outdir], dirname(packageDir));
  const readme = filesUnder(outdir).find(file => posix.basename(file) === 'README.md');
  if (!readme) fail(`jsii-pacmak made no ${language} README`);
  const text = readFileSync(join(outdir, readme), 'utf8');
  const fence = language === 'python' ? 'python' : 'go';
  const blocks = Array.from(text.matchAll(new RegExp('```' + fence + '\\n([\\s\\S]*?)```', 'g')), m => m[1]);
  const typescript = blocks.filter(block => /^import \{|^const |\bnew [A-Z]|=>/m.test(block));
  const untranslated = Array.from(text.matchAll(/```(ts|typescript)\n/g)).length;
  if (blocks.length === 0 || typescript.length > 0 || untranslated > 0) {
    fail(`the ${language} README shows TypeScript: ${typescript.length} of ${blocks.length} ${fence} blocks, `
      + `${untranslated} TypeScript blocks left (a README example that jsii-rosetta cannot compile?)`);
  }
  return `${blocks.length} examples in ${fence}, none in TypeScript`;
}

function newestAwsCdkLib(): string {
  try {
    return run('npm', ['view', 'aws-cdk-lib@latest', 'version']).trim();
  } catch (error) {
    return fail(`cannot ask the npm registry for the newest aws-cdk-lib: ${(error as Error).message}`);
  }
}

/** The files below a folder, by their paths relative to it ('/'-separated); none if it does not exist. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter(entry => entry.isFile())
    .map(entry => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'));
}

function run(command: string, args: string[], cwd = ROOT, env: Record<string, string> = {}): string {
  try {
    return execFileSync(command, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

function fail(message: string): never {
  throw new Error(message);
}

main();
