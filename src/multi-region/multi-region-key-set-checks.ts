import { Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';
import { adminPrincipal } from '../key/key-roles';

/*
 * The checks of a MultiRegionKeySet's placement: its scope, account, Regions and key
 * spec, and the literal ARN of the primary's admin role that replicas name.
 */

/** The literal ARN of an admin role the library made, which a policy of another stack can name. */
export function literalArnOf(role: iam.IRole): string {
  const { principal, named } = adminPrincipal(role);
  const arn = principal.policyFragment.principalJson.AWS?.[0];
  if (!named || typeof arn !== 'string' || Token.isUnresolved(arn)) {
    throw new Error(`the primary's admin role ${role.node.path} has no ARN known at synth, which the replicas' policies must name`);
  }
  return arn;
}

export function findStack(scope: Construct): Stack | undefined {
  for (let c: Construct | undefined = scope; c; c = c.node.scope as Construct | undefined) {
    if (Stack.isStack(c)) return c;
  }
  return undefined;
}

const ACCOUNT_PATTERN = /^\d{12}$/;

export function validateAccount(account: string): string {
  if (Token.isUnresolved(account) || !ACCOUNT_PATTERN.test(account)) {
    throw new Error(`account must be a 12-digit AWS account ID known at synth (every member of the set is in it), got ${account}`);
  }
  return account;
}

export function validateRegion(prop: string, region: string): string {
  if (Token.isUnresolved(region) || !RegionInfo.regions.some(r => r.name === region)) {
    throw new Error(`${prop} must be an AWS Region known at synth, as us-east-1, got ${region}`);
  }
  return region;
}

export function validateReplicaRegions(regions: string[], primaryRegion: string, partition: string): string[] {
  if (regions.length === 0) {
    throw new Error('replicaRegions must name at least one Region: a set without a replica is a ClassifiedKey, got []');
  }
  const seen = new Set<string>();
  for (const region of regions) {
    validateRegion('replicaRegions', region);
    if (region === primaryRegion) {
      throw new Error(`replicaRegions must not include primaryRegion: a Region holds one member of the set, got ${region}`);
    }
    if (seen.has(region)) {
      throw new Error(`replicaRegions must name each Region once, got ${region} twice`);
    }
    const other = RegionInfo.get(region).partition;
    if (other !== partition) {
      throw new Error(`replicaRegions must be in the primary's partition (${partition}, of ${primaryRegion}), got ${region} in ${other}`);
    }
    seen.add(region);
  }
  return regions;
}

/**
 * Key specs KMS offers only in some Regions: SM2 only in the China Regions.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/asymmetric-key-specs.html#key-spec-sm
 */
export function validateKeySpecInRegions(spec: kms.KeySpec | undefined, regions: string[]): void {
  if (spec !== kms.KeySpec.SM2) return;
  const outside = regions.filter(region => RegionInfo.get(region).partition !== 'aws-cn');
  if (outside.length > 0) {
    throw new Error(`keySpec SM2 is offered only in the China Regions, got it for ${outside.join(', ')}`);
  }
}
