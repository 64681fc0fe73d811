/*
 * The source tree is the architecture (README, "How the code is organized"): one folder
 * per construct family, and dependencies that run one way between them. eslint's
 * import/no-cycle refuses a cycle of files; this refuses a folder that reaches back,
 * even through files that form no cycle, and proves the public door is index.ts alone.
 */
import { readdirSync, readFileSync } from 'fs';
import { dirname, join, relative, resolve, sep } from 'path';
import * as ts from 'typescript';

const SRC = resolve(__dirname, '..', 'src');

/** Which top-level rooms of src/ each may load at run time; `import type` is free. */
const ALLOWED: Record<string, string[]> = {
  'nag.ts': [],
  'inventory': [],
  'key': ['nag.ts', 'inventory'],
  'audit': ['key', 'nag.ts'],
  'custom-resources': ['key', 'nag.ts'],
  'multi-region': ['key', 'audit', 'custom-resources', 'nag.ts'],
  'key-store': ['key', 'audit', 'custom-resources', 'nag.ts'],
  'perimeter': ['key', 'nag.ts'],
  'delegation': ['key', 'custom-resources', 'nag.ts'],
  'evidence': ['key', 'audit', 'nag.ts'],
  'index.ts': ['key', 'audit', 'custom-resources', 'multi-region', 'key-store', 'perimeter', 'delegation', 'evidence'],
};

interface Edge { readonly file: string; readonly target: string; readonly typeOnly: boolean }

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter(entry => entry.isFile() && entry.name.endsWith('.ts'))
    .map(entry => join(entry.parentPath, entry.name));
}

/** The room of a file: its folder under src/, or the file itself at the top. */
function roomOf(file: string): string {
  return relative(SRC, file).split(sep)[0];
}

function edgesOf(file: string): Edge[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const edges: Edge[] = [];
  for (const statement of source.statements) {
    let specifier: ts.Expression | undefined;
    let typeOnly = false;
    if (ts.isImportDeclaration(statement)) {
      specifier = statement.moduleSpecifier;
      typeOnly = statement.importClause?.isTypeOnly ?? false;
    } else if (ts.isExportDeclaration(statement)) {
      specifier = statement.moduleSpecifier;
      typeOnly = statement.isTypeOnly;
    }
    if (specifier && ts.isStringLiteral(specifier) && specifier.text.startsWith('.')) {
      edges.push({ file, target: resolve(dirname(file), specifier.text), typeOnly });
    }
  }
  return edges;
}

const EDGES = sourceFiles(SRC).flatMap(edgesOf);

test('each folder loads only the folders below it', () => {
  const wrong = EDGES
    .filter(edge => !edge.typeOnly)
    .map(edge => ({ from: roomOf(edge.file), to: roomOf(edge.target.endsWith('.ts') ? edge.target : `${edge.target}.ts`), edge }))
    .filter(({ from, to }) => from !== to && !(ALLOWED[from] ?? []).includes(to))
    .map(({ edge }) => `${relative(SRC, edge.file)} loads ${relative(SRC, edge.target)}`);
  expect(wrong).toEqual([]);
});

test('the rooms are the ones the README lists', () => {
  expect(readdirSync(SRC).sort()).toEqual(Object.keys(ALLOWED).sort());
});

test('the key folder names the audit trail as a type only, for the public auditTrail prop', () => {
  const keyToAudit = EDGES.filter(edge => roomOf(edge.file) === 'key' && roomOf(edge.target) === 'audit');
  expect(keyToAudit.length).toBeGreaterThan(0);
  expect(keyToAudit.filter(edge => !edge.typeOnly)).toEqual([]);
});

test('only index.ts is the public door: no other file re-exports a module', () => {
  const reexports = sourceFiles(SRC).filter(file => !file.endsWith(`${sep}index.ts`))
    .filter(file => /^export \* from /m.test(readFileSync(file, 'utf8')));
  expect(reexports.map(file => relative(SRC, file))).toEqual([]);
});
