import { Fn, Stack, Token } from 'aws-cdk-lib';
import { RegionInfo } from 'aws-cdk-lib/region-info';

/*
 * Strings that name a stack's partition, account and Region, written literally from
 * aws-cdk-lib's region facts where the stack's environment is known: the account
 * root's ARN, the Region's domain suffix, the deploy role's ARN.
 */

const DOMAIN_SUFFIXES = new Map<string, string | undefined>();

/** A Region's domain suffix from aws-cdk-lib's region facts, looked up once per Region. */
export function domainSuffixOf(region: string): string | undefined {
  if (!DOMAIN_SUFFIXES.has(region)) DOMAIN_SUFFIXES.set(region, RegionInfo.get(region).domainSuffix);
  return DOMAIN_SUFFIXES.get(region);
}

/** The account root's ARN: see `stackString`. */
export function accountRootArn(stack: Stack): string {
  return stackString(stack, 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root');
}

const PARTITIONS = new Map<string, string | undefined>();

/**
 * A string with `${AWS::Partition}`, `${AWS::AccountId}` and `${AWS::Region}`
 * placeholders, written literally where the stack's environment is known (the
 * partition from aws-cdk-lib's region facts), else with `Fn::Sub`. Key policies name
 * the account root and the deploy role in every key: literal strings keep them short
 * to read and quick to synthesize.
 */
export function stackString(stack: Stack, template: string): string {
  const region = Token.isUnresolved(stack.region) ? undefined : stack.region;
  if (region !== undefined && !PARTITIONS.has(region)) PARTITIONS.set(region, RegionInfo.get(region).partition);
  const known: Record<string, string | undefined> = {
    'AWS::Partition': region === undefined ? undefined : PARTITIONS.get(region),
    'AWS::AccountId': Token.isUnresolved(stack.account) ? undefined : stack.account,
    'AWS::Region': region,
  };
  const written = template.replace(/\$\{(AWS::[A-Za-z]+)\}/g, (whole, name: string) => known[name] ?? whole);
  return written.includes('${') ? Fn.sub(written) : written;
}
