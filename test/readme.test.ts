import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { join, resolve } from 'path';
import type { App } from 'aws-cdk-lib';
import * as ts from 'typescript';

/*
 * The README's TypeScript examples are part of the documentation users copy: each is
 * type-checked against the library's source, run, and every app it makes is
 * synthesized, as `cdk synth` would, without AWS credentials: an example that does
 * not compile, fails at synth, or needs a context lookup (an AWS call the CLI makes
 * before synthesizing) fails here. jsii-rosetta compiles them again for the other
 * languages' READMEs (post-compile), and `npx projen test:package` checks those.
 */
const ROOT = resolve(__dirname, '..');
// Gitignored and npmignored; removed after the run.
const OUT = join(ROOT, '.tmp', 'readme');

// Every App an example makes, so that the test can synthesize it (examples do not
// call app.synth(): the CDK CLI does).
const mockApps: App[] = [];
jest.mock('aws-cdk-lib', () => {
  const actual = jest.requireActual('aws-cdk-lib');
  class TrackedApp extends actual.App {
    constructor(...args: any[]) {
      super(...args);
      mockApps.push(this as unknown as App);
    }
  }
  return new Proxy(actual, { get: (target, name) => (name === 'App' ? TrackedApp : target[name]) });
});

const blocks = Array.from(readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g))
  .map(match => match[1].replace(/from 'cdk-kms-constructs'/g, 'from \'../../src\''));
const files = blocks.map((_, i) => join(OUT, `example-${i + 1}.ts`));

beforeAll(() => {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  blocks.forEach((code, i) => writeFileSync(files[i], code));
});

afterAll(() => {
  rmSync(join(ROOT, '.tmp'), { recursive: true, force: true });
});

test('the README has TypeScript examples', () => {
  expect(blocks.length).toBeGreaterThanOrEqual(6);
});

test('every README example type-checks', () => {
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile).config;
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, ROOT);
  const program = ts.createProgram(files, { ...options, noEmit: true, rootDir: ROOT, noUnusedLocals: false });
  const diagnostics = ts.getPreEmitDiagnostics(program)
    .filter(d => d.file && files.includes(resolve(d.file.fileName)))
    .map(d => `${d.file!.fileName}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
  expect(diagnostics).toEqual([]);
});

test.each(files.map((file, i) => [i + 1, file]))('README example %d synthesizes without AWS credentials', (_n, file) => {
  // GIVEN
  mockApps.length = 0;

  // WHEN the example runs, as the CLI runs an app
  jest.isolateModules(() => {
    // A dynamic import() would need jest's ESM mode; require runs the example as is.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(file as string);
  });

  // THEN each of its apps synthesizes with no lookup and no error
  expect(mockApps.length).toBeGreaterThan(0);
  for (const app of mockApps) {
    const assembly = app.synth();
    expect((assembly.manifest.missing ?? []).map(missing => `needs a lookup with AWS credentials: ${missing.key}`)).toEqual([]);
    const errors = assembly.stacks.flatMap(stack => stack.messages).filter(message => message.level === 'error');
    expect(errors.map(error => `${error.id}: ${String(error.entry.data)}`)).toEqual([]);
  }
});

test('CI runs the README\'s two commands verbatim, installing with npm ci, the tests first', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const commands = Array.from(readme.matchAll(/```bash\n\s*(npm ci && npx projen \w+)\n\s*```/g)).map(m => m[1]);
  expect(commands).toEqual(['npm ci && npx projen example', 'npm ci && npx projen ci']);
  const ciRun = readFileSync(join(ROOT, '.ci', 'run'), 'utf8').split('\n').filter(line => line.startsWith('npm '));
  expect(ciRun).toEqual(['npm ci && npx projen ci', 'npm ci && npx projen example']);
});

test('every task that runs the library bundles the handlers first', () => {
  // A fresh clone has no assets/: a task that loads the constructs before bundling
  // fails with "Cannot find asset".
  const tasks = JSON.parse(readFileSync(join(ROOT, '.projen', 'tasks.json'), 'utf8')).tasks;
  for (const name of ['compile', 'test', 'example', 'integ', 'integ:update', 'bench']) {
    expect([name, tasks[name].steps[0]]).toEqual([name, { spawn: 'bundle' }]);
  }
});
