/*
 * The primary key lookup's world, as its handler tests and the attack catalogue mock
 * it: a set `Orders` whose primary is in us-east-1 of account 111111111111, its
 * stack's output, and the key KMS describes.
 */
import type { DescribeStacksCommandOutput } from '@aws-sdk/client-cloudformation';
import type { KeyMetadata } from '@aws-sdk/client-kms';
import type { TestResource } from './handlers';

export const ACCOUNT = '111111111111';
export const PRIMARY_KEY_ID = 'mrk-1234abcd12ab34cd56ef1234567890ab';
export const PRIMARY_ARN = `arn:aws:kms:us-east-1:${ACCOUNT}:key/${PRIMARY_KEY_ID}`;

/** The lookup's properties, as MultiRegionKeySet writes them in a replica's stack. */
export const LOOKUP_PROPS = {
  ServiceToken: 'arn:aws:lambda:eu-west-1:111111111111:function:framework',
  PrimaryRegion: 'us-east-1',
  PrimaryStackName: 'Orders-us-east-1',
  OutputName: 'OrdersPrimaryKeyArn',
  Account: ACCOUNT,
  KeyKind: 'SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT/AWS_KMS',
};

export const LOOKUP_RESOURCE: TestResource = {
  resourceType: 'Custom::KmsPrimaryKeyLookup',
  logicalId: 'OrdersPrimaryKey',
  properties: LOOKUP_PROPS,
  physicalId: PRIMARY_ARN,
};

/** The primary stack as DescribeStacks answers, its output naming `arn`. */
export function primaryStack(arn = PRIMARY_ARN): Partial<DescribeStacksCommandOutput> {
  return {
    Stacks: [{
      StackName: 'Orders-us-east-1',
      StackStatus: 'UPDATE_COMPLETE',
      CreationTime: new Date(),
      Outputs: [{ OutputKey: 'OrdersPrimaryKeyArn', OutputValue: arn }],
    }],
  };
}

/** The primary key as DescribeKey answers: an enabled multi-Region primary of the set's kind. */
export function primaryKey(overrides: Partial<KeyMetadata> = {}): KeyMetadata {
  return {
    KeyId: PRIMARY_KEY_ID,
    Arn: PRIMARY_ARN,
    AWSAccountId: ACCOUNT,
    KeyState: 'Enabled',
    KeySpec: 'SYMMETRIC_DEFAULT',
    KeyUsage: 'ENCRYPT_DECRYPT',
    Origin: 'AWS_KMS',
    MultiRegion: true,
    MultiRegionConfiguration: { MultiRegionKeyType: 'PRIMARY', PrimaryKey: { Arn: PRIMARY_ARN, Region: 'us-east-1' } },
    ...overrides,
  };
}
