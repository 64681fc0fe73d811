/*
 * Benchmark: construct + synthesize N ClassifiedKeys (default props, INTERNAL; default
 * props, CONFIDENTIAL; INTERNAL unmonitored) beside N plain kms.Keys with an alias and
 * rotation, for N = 1, 10, 100 and 200, in one run. Reports time per variant and the
 * ratio to plain keys, resources and template bytes per extra key, and the largest
 * key policy.
 *
 *   npx projen bench            (prints a Markdown table; JSON in bench/results/)
 *
 * Times are medians of several interleaved runs after a warm-up; they vary with the
 * machine, the ratios and counts much less.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ClassifiedKey, DataClassification } from '../src';

type Variant = 'plain' | 'default' | 'confidential' | 'internal-unmonitored';
const VARIANTS: Variant[] = ['plain', 'default', 'confidential', 'internal-unmonitored'];
const SIZES = [1, 10, 100, 200];
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

interface Measurement {
  readonly variant: Variant;
  readonly keys: number;
  readonly ms: number;
  readonly resources: number;
  readonly templateBytes: number;
  readonly largestKeyPolicyBytes: number;
}

/** Builds and synthesizes one stack; returns the time taken and what it made. */
function run(variant: Variant, keys: number): Omit<Measurement, 'variant' | 'keys'> {
  const outdir = mkdtempSync(join(tmpdir(), 'kms-bench-'));
  try {
    const start = process.hrtime.bigint();
    // The 500-resource check is off so that every variant can be measured at 200
    // keys (200 CONFIDENTIAL keys, with an alarm each, do not fit one stack); the
    // table says which ones fit.
    const app = new App({ outdir, context: { '@aws-cdk/core:stackResourceLimit': 0 } });
    const stack = new Stack(app, 'Bench', { env: { account: '111111111111', region: 'us-east-1' } });
    for (let i = 0; i < keys; i++) {
      if (variant === 'plain') {
        new kms.Key(stack, `Key${i}`, { alias: `alias/bench/key${i}`, enableKeyRotation: true });
      } else {
        // Default props: the alias is derived, roles are shared, the trail is the
        // account's and Region's.
        new ClassifiedKey(stack, `Key${i}`, {
          classification: variant === 'confidential' ? DataClassification.CONFIDENTIAL : DataClassification.INTERNAL,
          monitoring: variant === 'internal-unmonitored' ? false : undefined,
        });
      }
    }
    const template = app.synth().getStackByName('Bench').template;
    const ms = Number(process.hrtime.bigint() - start) / 1e6;

    const resources = Object.values<any>(template.Resources);
    const keyPolicies = resources.filter(r => r.Type === 'AWS::KMS::Key').map(r => JSON.stringify(r.Properties.KeyPolicy).length);
    return {
      ms,
      resources: resources.length,
      templateBytes: JSON.stringify(template).length,
      largestKeyPolicyBytes: Math.max(...keyPolicies),
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function main(): void {
  // Warm-up: load every module and let the JIT settle.
  for (const variant of VARIANTS) run(variant, 10);

  const results: Measurement[] = [];
  for (const keys of SIZES) {
    const times = new Map<Variant, number[]>(VARIANTS.map(v => [v, []]));
    let last = new Map<Variant, ReturnType<typeof run>>();
    for (let r = 0; r < RUNS; r++) {
      for (const variant of VARIANTS) {
        const m = run(variant, keys);
        times.get(variant)!.push(m.ms);
        last.set(variant, m);
      }
    }
    for (const variant of VARIANTS) {
      results.push({ variant, keys, ...last.get(variant)!, ms: median(times.get(variant)!) });
    }
  }

  const find = (variant: Variant, keys: number) => results.find(r => r.variant === variant && r.keys === keys)!;
  const perExtraKey = (variant: Variant, what: 'resources' | 'templateBytes' | 'ms') =>
    (find(variant, 200)[what] - find(variant, 1)[what]) / 199;

  const lines = [
    `Node ${process.version}, ${RUNS} runs each, median construct+synth time`,
    '',
    '| keys | variant | construct+synth | vs plain | resources | fits one stack | template | largest key policy |',
    '|---:|---|---:|---:|---:|---|---:|---:|',
    ...results.map(r => `| ${r.keys} | ${r.variant} | ${r.ms.toFixed(0)} ms | ${(r.ms / find('plain', r.keys).ms).toFixed(2)}x | ${r.resources} | ${r.resources <= 500 && r.templateBytes <= 1024 * 1024 ? 'yes' : 'no'} | ${(r.templateBytes / 1024).toFixed(1)} KiB | ${r.largestKeyPolicyBytes} B |`),
    '',
    '| per extra key (1 to 200 keys) | resources | template | construct+synth | vs plain |',
    '|---|---:|---:|---:|---:|',
    ...VARIANTS.map(v => `| ${v} | ${perExtraKey(v, 'resources').toFixed(2)} | ${(perExtraKey(v, 'templateBytes') / 1024).toFixed(2)} KiB | ${perExtraKey(v, 'ms').toFixed(2)} ms | ${(perExtraKey(v, 'ms') / perExtraKey('plain', 'ms')).toFixed(2)}x |`),
  ];
  console.log(lines.join('\n'));

  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', 'latest.json'), JSON.stringify({
    node: process.version,
    runs: RUNS,
    results,
    perExtraKey: Object.fromEntries(VARIANTS.map(v => [v, {
      resources: perExtraKey(v, 'resources'), templateBytes: perExtraKey(v, 'templateBytes'), ms: perExtraKey(v, 'ms'),
    }])),
  }, null, 2));
}

main();
