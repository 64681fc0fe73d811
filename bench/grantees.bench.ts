/*
 * Benchmark: how many grantees one key policy holds. A CONFIDENTIAL key behind an S3
 * bucket, read (`bucket.grantRead(role)`) by N Lambda roles of the key's stack, as a
 * platform team's shared data key is. Reports, for N = 1, 100 and 300:
 *
 * - the key policy's size as the size check estimates it (each deploy-time value at
 *   its longest) and as KMS would receive it (each role named as CloudFormation
 *   generates names, `<stack>-<logical ID>-<13 characters>`);
 * - the bytes each extra grantee adds;
 * - the largest N the check lets synthesize, found by bisection;
 * - the same key with one fleet grant (`ClassifiedKey.rolesUnderPath`), whose size
 *   does not depend on how many roles are under the path.
 *
 *   npx projen bench            (prints a Markdown table; JSON in bench/results/)
 */
import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ClassifiedKey, DataClassification } from '../src';
import { PolicySizeEstimator } from '../src/key/policy-size';

const LIMIT = 32 * 1024;

interface Sizes {
  readonly estimated: number;
  readonly deployed: number;
}

/** The key policy of a shared data key read by `n` roles, or by one fleet. */
function measure(n: number, fleet = false): Sizes {
  const app = new App({ context: { '@aws-cdk/core:stackResourceLimit': 0, 'cdk-kms-constructs:keyInventory': false } });
  const stack = new Stack(app, 'DataStack', { env: { account: '111111111111', region: 'us-east-1' } });
  const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
  const bucket = new s3.Bucket(stack, 'Bucket', { encryptionKey: key, encryption: s3.BucketEncryption.KMS });
  const names = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const role = new iam.Role(stack, `Fn${i}ServiceRole`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const id = stack.resolve((role.node.defaultChild as iam.CfnRole).logicalId);
    names.set(id, `arn:aws:iam::111111111111:role/${`${stack.stackName}-${id}-ABCDEFGHIJKLM`.slice(0, 64)}`);
    bucket.grantRead(role);
  }
  if (fleet) bucket.grantRead(ClassifiedKey.rolesUnderPath('/payments/readers/'));
  // The policy as the template holds it, without synthesizing (the check would refuse the largest).
  const policy = stack.resolve((key.node.defaultChild as any).keyPolicy);
  const deployed = Buffer.byteLength(JSON.stringify(policy, (_k, v) => {
    if (v && typeof v === 'object' && Array.isArray(v['Fn::GetAtt'])) return names.get(v['Fn::GetAtt'][0]) ?? v;
    return v;
  }));
  return { estimated: new PolicySizeEstimator(stack).size(policy), deployed };
}

/** The largest number of roles by name whose estimated policy fits. */
function largestFit(): number {
  let low = 1;
  let high = 1000;
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (measure(mid).estimated <= LIMIT) low = mid; else high = mid;
  }
  return low;
}

function main(): void {
  const sizes = [1, 100, 300].map(n => ({ n, ...measure(n) }));
  const one = sizes[0];
  const perGrantee = (what: keyof Sizes, to: { n: number } & Sizes) => (to[what] - one[what]) / (to.n - one.n);
  const fit = largestFit();
  const fleet = measure(0, true);
  const lines = [
    '| grantees by name | estimated key policy | deployed key policy | per extra grantee (estimated / deployed) |',
    '|---:|---:|---:|---:|',
    ...sizes.map(s => `| ${s.n} | ${s.estimated} B | ${s.deployed} B | ${s.n === 1 ? '' : `${perGrantee('estimated', s).toFixed(0)} B / ${perGrantee('deployed', s).toFixed(0)} B`} |`),
    '',
    `Largest number of roles by name that fit the ${LIMIT}-byte limit, as estimated: ${fit}.`,
    `One fleet grant (every role under /payments/readers/, any number of them): ${fleet.estimated} B estimated, ${fleet.deployed} B deployed.`,
  ];
  console.log(lines.join('\n'));
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', 'grantees.json'), JSON.stringify({ sizes, largestFit: fit, fleet }, null, 2));
}

main();
