/**
 * The handler that tells a replica stack its primary key's ARN, against a mocked KMS
 * client: each request type, each state a primary can be in, and each error
 * DescribeKey documents, as the message CloudFormation shows.
 * @see https://docs.aws.amazon.com/kms/latest/APIReference/API_DescribeKey.html#API_DescribeKey_Errors
 */
import { DescribeKeyCommand, KeyMetadata, KMSClient } from '@aws-sdk/client-kms';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { handler } from '../src/primary-key-lookup.lambda';
import { awsError, customResourceEvent } from './support/handlers';

const kms = mockClient(KMSClient);
const ACCOUNT = '111111111111';
const KEY_ID = 'mrk-1234abcd12ab34cd56ef1234567890ab';
const ARN = `arn:aws:kms:us-east-1:${ACCOUNT}:key/${KEY_ID}`;
const PROPS = {
  ServiceToken: 'arn:aws:lambda:eu-west-1:111111111111:function:framework',
  PrimaryRegion: 'us-east-1',
  AliasName: 'alias/confidential/Orders',
  Account: ACCOUNT,
  KeyKind: 'SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT/AWS_KMS',
};

const RESOURCE = { resourceType: 'Custom::KmsPrimaryKeyLookup', logicalId: 'OrdersPrimaryKey', properties: PROPS, physicalId: ARN, stackId: `arn:aws:cloudformation:eu-west-1:${ACCOUNT}:stack/Orders-eu-west-1/guid` };

function event(type: 'Create' | 'Update' | 'Delete', extra: Record<string, unknown> = {}): CloudFormationCustomResourceEvent {
  return customResourceEvent(RESOURCE, type, extra);
}

function primary(overrides: Partial<KeyMetadata> = {}): KeyMetadata {
  return {
    KeyId: KEY_ID,
    Arn: ARN,
    AWSAccountId: ACCOUNT,
    KeyState: 'Enabled',
    MultiRegion: true,
    MultiRegionConfiguration: { MultiRegionKeyType: 'PRIMARY', PrimaryKey: { Arn: ARN, Region: 'us-east-1' } },
    ...overrides,
  };
}

beforeEach(() => kms.reset());

describe('create', () => {
  test('describes the alias in the primary Region and answers the key ARN and ID', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary() });
    await expect(handler(event('Create'))).resolves.toEqual({ PhysicalResourceId: ARN, Data: { Arn: ARN, KeyId: KEY_ID } });
    const calls = kms.commandCalls(DescribeKeyCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0].args[0].input).toEqual({ KeyId: 'alias/confidential/Orders' });
    expect(await kms.send.thisValues[0].config.region()).toBe('us-east-1');
  });

  test('a retried create reads the same key again: nothing was made to clean up', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary() });
    const first = await handler(event('Create'));
    const second = await handler(event('Create'));
    expect(second).toEqual(first);
  });

  test.each([
    ['NotFoundException', 'there is no such alias: deploy the primary Region\'s stack first; the replica stacks depend on it (NotFoundException: NotFoundException from KMS)'],
    ['AccessDeniedException', 'the lookup\'s role may not describe it: the role allows kms:DescribeKey only through this alias; check for a service control policy or permissions boundary that denies it (AccessDeniedException: AccessDeniedException from KMS)'],
    ['InvalidArnException', 'KMS refused the alias name (InvalidArnException: InvalidArnException from KMS)'],
    ['DependencyTimeoutException', 'KMS could not answer; this is transient, retry the deployment (DependencyTimeoutException: DependencyTimeoutException from KMS)'],
    ['KMSInternalException', 'KMS could not answer; this is transient, retry the deployment (KMSInternalException: KMSInternalException from KMS)'],
    ['ThrottlingException', 'KMS could not answer; this is transient, retry the deployment (ThrottlingException: ThrottlingException from KMS)'],
    ['UnrecognizedClientException', 'UnrecognizedClientException: UnrecognizedClientException from KMS'],
  ])('%s becomes what to do', async (name, explanation) => {
    kms.on(DescribeKeyCommand).rejects(awsError(name, `${name} from KMS`));
    await expect(handler(event('Create'))).rejects.toThrow(`Cannot read the primary key of alias alias/confidential/Orders in us-east-1: ${explanation}`);
  });

  test('a key that is not multi-Region is refused', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary({ MultiRegion: false, MultiRegionConfiguration: undefined }) });
    await expect(handler(event('Create'))).rejects.toThrow(`The key of alias alias/confidential/Orders in us-east-1 (${ARN}) is not a multi-Region key, so it cannot have replicas`);
  });

  test('a key of another account is refused', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary({ AWSAccountId: '222222222222' }) });
    await expect(handler(event('Create'))).rejects.toThrow('is in account 222222222222, not 111111111111: replicas are never cross-account');
  });

  test('after a failover the old primary is a replica: a new replica must come from the new primary', async () => {
    kms.on(DescribeKeyCommand).resolves({
      KeyMetadata: primary({ MultiRegionConfiguration: { MultiRegionKeyType: 'REPLICA', PrimaryKey: { Region: 'eu-west-1' } } }),
    });
    await expect(handler(event('Create'))).rejects.toThrow('is a REPLICA key whose primary is now in eu-west-1 (after UpdatePrimaryRegion): set primaryRegion to eu-west-1');
  });

  test.each([
    ['Disabled', 'is disabled (enable it with EnableKey)'],
    ['PendingDeletion', 'is scheduled for deletion (cancel it with CancelKeyDeletion)'],
    ['PendingReplicaDeletion', 'is waiting for its replicas to be deleted'],
    ['Creating', 'is still being created; retry the deployment'],
    ['Updating', 'a primary Region change is in progress'],
    ['Unavailable', 'is Unavailable'],
  ])('a primary in state %s cannot be replicated now', async (state, message) => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary({ KeyState: state as KeyMetadata['KeyState'] }) });
    await expect(handler(event('Create'))).rejects.toThrow(message);
    await expect(handler(event('Create'))).rejects.toThrow('KMS replicates only an enabled key, or one waiting for its imported material');
  });

  test('a primary waiting for its imported material is replicated: each replica then waits for the same', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary({ KeyState: 'PendingImport' }) });
    await expect(handler(event('Create'))).resolves.toMatchObject({ PhysicalResourceId: ARN });
  });

  test('an answer without ARN is an error, not an empty physical ID', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: KEY_ID } });
    await expect(handler(event('Create'))).rejects.toThrow('KMS described alias alias/confidential/Orders in us-east-1 without an ARN or key ID');
  });

  test('properties the construct did not write are refused before any call', async () => {
    await expect(handler(event('Create', { ResourceProperties: { ServiceToken: 'x', AliasName: '' } }))).rejects.toThrow(
      'The primary key lookup was called without PrimaryRegion, AliasName, Account',
    );
    expect(kms.commandCalls(DescribeKeyCommand)).toHaveLength(0);
  });
});

describe('update', () => {
  test('the same key keeps the physical ID, so CloudFormation replaces nothing', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary() });
    await expect(handler(event('Update'))).resolves.toEqual({ PhysicalResourceId: ARN, Data: { Arn: ARN, KeyId: KEY_ID } });
  });

  test('after a failover the replica made from this key stays valid', async () => {
    kms.on(DescribeKeyCommand).resolves({
      KeyMetadata: primary({ MultiRegionConfiguration: { MultiRegionKeyType: 'REPLICA', PrimaryKey: { Region: 'eu-west-1' } } }),
    });
    await expect(handler(event('Update'))).resolves.toMatchObject({ PhysicalResourceId: ARN });
  });

  test('an alias moved to another key is refused: it would replace the replica key', async () => {
    const other = `arn:aws:kms:us-east-1:${ACCOUNT}:key/mrk-99999999999999999999999999999999`;
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary({ Arn: other, KeyId: 'mrk-99999999999999999999999999999999' }) });
    await expect(handler(event('Update'))).rejects.toThrow(
      `The alias alias/confidential/Orders in us-east-1 now names ${other}, but this replica was made from ${ARN}: a new primary would replace the replica key`,
    );
  });

  test('a new key kind replaced the primary: the replica is made again from the new one', async () => {
    const other = `arn:aws:kms:us-east-1:${ACCOUNT}:key/mrk-99999999999999999999999999999999`;
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary({ Arn: other, KeyId: 'mrk-99999999999999999999999999999999' }) });
    const changed = event('Update', { ResourceProperties: { ...PROPS, KeyKind: 'HMAC_256/GENERATE_VERIFY_MAC/AWS_KMS' } });
    await expect(handler(changed)).resolves.toEqual({ PhysicalResourceId: other, Data: { Arn: other, KeyId: 'mrk-99999999999999999999999999999999' } });
  });

  test('a new key kind whose new primary is not made yet is refused, as on create', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary({ KeyState: 'Creating' }) });
    const changed = event('Update', { ResourceProperties: { ...PROPS, KeyKind: 'HMAC_256/GENERATE_VERIFY_MAC/AWS_KMS' } });
    await expect(handler(changed)).rejects.toThrow('is still being created');
  });

  test('errors are explained as on create', async () => {
    kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
    await expect(handler(event('Update'))).rejects.toThrow('there is no such alias');
  });
});

describe('delete', () => {
  test('answers the physical ID and calls nothing: the lookup made nothing', async () => {
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: ARN });
    expect(kms.calls()).toHaveLength(0);
  });

  test('the delete after a failed create (no key ARN as physical ID) succeeds too, so the rollback completes', async () => {
    const failedCreate = event('Delete', { PhysicalResourceId: 'OrdersPrimaryKey-request' });
    await expect(handler(failedCreate)).resolves.toEqual({ PhysicalResourceId: 'OrdersPrimaryKey-request' });
    expect(kms.calls()).toHaveLength(0);
  });
});
