import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { join, resolve } from 'path';
import * as ts from 'typescript';

/*
 * The README's TypeScript examples are part of the documentation users copy: each is
 * type-checked against the library's source and run, so an example that does not
 * compile or fails at synth fails here.
 */
const ROOT = resolve(__dirname, '..');
const OUT = join(ROOT, '.tmp', 'readme');

const blocks = Array.from(readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g))
  .map(match => match[1].replace(/from 'cdk-kms-constructs'/g, `from '${join(ROOT, 'src').replace(/\\/g, '/')}'`));
const files = blocks.map((_, i) => join(OUT, `example-${i + 1}.ts`));

beforeAll(() => {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  blocks.forEach((code, i) => writeFileSync(files[i], code));
});

test('the README has TypeScript examples', () => {
  expect(blocks.length).toBeGreaterThanOrEqual(2);
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

test.each(files.map((file, i) => [i + 1, file]))('README example %d runs', (_n, file) => {
  jest.isolateModules(() => {
    // A dynamic import() would need jest's ESM mode; require runs the example as is.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(file as string);
  });
});

test('CI runs the README\'s test command verbatim, installing with npm ci', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const commands = Array.from(readme.matchAll(/```bash\n\s*(npm ci && npx projen \w+)\n\s*```/g)).map(m => m[1]);
  expect(commands).toEqual(['npm ci && npx projen example', 'npm ci && npx projen ci']);
  const ciRun = readFileSync(join(ROOT, '.ci', 'run'), 'utf8').split('\n').filter(line => line && !line.startsWith('#') && !line.startsWith('set '));
  expect(ciRun).toEqual(['npm ci && npx projen ci']);
});
