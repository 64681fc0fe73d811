/**
 * The handler that tells a replica stack its primary key's ARN, against mocked
 * CloudFormation and KMS clients: each request type, each state a primary can be in,
 * the key kind, and each error DescribeStacks and DescribeKey document, as the message
 * CloudFormation shows.
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html
 * @see https://docs.aws.amazon.com/kms/latest/APIReference/API_DescribeKey.html#API_DescribeKey_Errors
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeKeyCommand, KeyMetadata, KMSClient } from '@aws-sdk/client-kms';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { awsError, customResourceEvent, stackRecord } from './support/handlers';
import { ACCOUNT, LOOKUP_PROPS, LOOKUP_RESOURCE, PRIMARY_ARN, PRIMARY_KEY_ID, primaryKey, primaryStack } from './support/primary-key';
import { handler } from '../src/multi-region/primary-key-lookup.lambda';

const cloudformation = mockClient(CloudFormationClient);
const kms = mockClient(KMSClient);
const KEY_ID = PRIMARY_KEY_ID;
const ARN = PRIMARY_ARN;
const OTHER_ID = 'mrk-99999999999999999999999999999999';
const OTHER = `arn:aws:kms:us-east-1:${ACCOUNT}:key/${OTHER_ID}`;
const PROPS = LOOKUP_PROPS;
/** The primary stack's DescribeStacks (the handler also describes its own stack, to check the event). */
const PRIMARY_STACK = { StackName: 'Orders-us-east-1' };
const primary = primaryKey;

function event(type: 'Create' | 'Update' | 'Delete', extra: Record<string, unknown> = {}): CloudFormationCustomResourceEvent {
  return customResourceEvent(LOOKUP_RESOURCE, type, extra);
}

beforeEach(() => {
  cloudformation.reset();
  kms.reset();
  cloudformation.on(DescribeStacksCommand, PRIMARY_STACK).resolves(primaryStack());
  stackRecord(cloudformation);
});

describe('create', () => {
  test('reads the primary stack\'s output and describes that key in the primary Region, answering its ARN and ID', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary() });
    await expect(handler(event('Create'))).resolves.toEqual({ PhysicalResourceId: ARN, Data: { Arn: ARN, KeyId: KEY_ID } });
    expect(cloudformation.commandCalls(DescribeStacksCommand, PRIMARY_STACK).map(c => c.args[0].input)).toEqual([PRIMARY_STACK]);
    const primaryCall = cloudformation.commandCalls(DescribeStacksCommand, PRIMARY_STACK)[0];
    expect(await (primaryCall.thisValue as CloudFormationClient).config.region()).toBe('us-east-1');
    // The key the output names, never an alias.
    expect(kms.commandCalls(DescribeKeyCommand).map(c => c.args[0].input)).toEqual([{ KeyId: ARN }]);
    expect(await kms.send.thisValues[0].config.region()).toBe('us-east-1');
  });

  test('a retried create reads the same key again: nothing was made to clean up', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary() });
    const first = await handler(event('Create'));
    const second = await handler(event('Create'));
    expect(second).toEqual(first);
  });

  test.each([
    ['ValidationError', 'there is no such stack: deploy the primary Region\'s stack first; the replica stacks depend on it'],
    ['AccessDenied', 'the lookup\'s role may not describe it: the role allows cloudformation:DescribeStacks on that stack only'],
    ['Throttling', 'CloudFormation throttled the call; this is transient, retry the deployment'],
    ['InternalFailure', 'InternalFailure: InternalFailure from CloudFormation'],
  ])('DescribeStacks\' %s becomes what to do', async (name, explanation) => {
    cloudformation.on(DescribeStacksCommand, PRIMARY_STACK).rejects(awsError(name, `${name} from CloudFormation`));
    await expect(handler(event('Create'))).rejects.toThrow(`Cannot read the primary key's ARN from stack Orders-us-east-1 in us-east-1: ${explanation}`);
    expect(kms.calls()).toHaveLength(0);
  });

  test('a primary stack without the output (deployed by an older version) is refused with what to do', async () => {
    cloudformation.on(DescribeStacksCommand, PRIMARY_STACK).resolves({ Stacks: [{ StackName: 'Orders-us-east-1', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date(), Outputs: [] }] });
    await expect(handler(event('Create'))).rejects.toThrow(
      'stack Orders-us-east-1 in us-east-1 has no output OrdersPrimaryKeyArn: deploy the primary Region\'s stack with this version of cdk-kms-constructs first',
    );
  });

  test.each([
    ['NotFoundException', 'there is no such key: the primary stack\'s output names a key that does not exist (NotFoundException: NotFoundException from KMS)'],
    ['AccessDeniedException', 'the lookup\'s role may not describe it: the role allows kms:DescribeKey on keys of the primary Region and account only; check for a service control policy or permissions boundary that denies it (AccessDeniedException: AccessDeniedException from KMS)'],
    ['InvalidArnException', 'KMS refused the ARN of the primary stack\'s output (InvalidArnException: InvalidArnException from KMS)'],
    ['DependencyTimeoutException', 'KMS could not answer; this is transient, retry the deployment (DependencyTimeoutException: DependencyTimeoutException from KMS)'],
    ['KMSInternalException', 'KMS could not answer; this is transient, retry the deployment (KMSInternalException: KMSInternalException from KMS)'],
    ['ThrottlingException', 'KMS could not answer; this is transient, retry the deployment (ThrottlingException: ThrottlingException from KMS)'],
    ['UnrecognizedClientException', 'UnrecognizedClientException: UnrecognizedClientException from KMS'],
  ])('DescribeKey\'s %s becomes what to do', async (name, explanation) => {
    kms.on(DescribeKeyCommand).rejects(awsError(name, `${name} from KMS`));
    await expect(handler(event('Create'))).rejects.toThrow(`Cannot read the primary key ${ARN}: ${explanation}`);
  });

  test.each([
    ['another spec', { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }, 'HMAC_256/GENERATE_VERIFY_MAC/AWS_KMS'],
    ['another usage', { KeySpec: 'RSA_3072', KeyUsage: 'SIGN_VERIFY' }, 'RSA_3072/SIGN_VERIFY/AWS_KMS'],
    ['another origin', { Origin: 'EXTERNAL' }, 'SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT/EXTERNAL'],
  ] as const)('a primary of %s than the set\'s is refused: its replica would not be the set\'s key', async (_what, overrides, kind) => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary(overrides as Partial<KeyMetadata>) });
    await expect(handler(event('Create'))).rejects.toThrow(
      `The primary key ${ARN} of stack Orders-us-east-1 is a ${kind} key, not the set's SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT/AWS_KMS`,
    );
  });

  test('a key that is not multi-Region is refused', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary({ MultiRegion: false, MultiRegionConfiguration: undefined }) });
    await expect(handler(event('Create'))).rejects.toThrow(`The primary key ${ARN} of stack Orders-us-east-1 is not a multi-Region key, so it cannot have replicas`);
  });

  test('a key of another account is refused', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary({ AWSAccountId: '222222222222' }) });
    await expect(handler(event('Create'))).rejects.toThrow('is in account 222222222222, not 111111111111: replicas are never cross-account');
  });

  test('KMS describing another key than the output\'s is refused', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary({ Arn: OTHER, KeyId: OTHER_ID }) });
    await expect(handler(event('Create'))).rejects.toThrow(`KMS described ${OTHER} for it; the output must hold the key's ARN`);
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
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary({ KeyState: 'PendingImport', Origin: 'EXTERNAL' }) });
    const imported = event('Create', { ResourceProperties: { ...PROPS, KeyKind: 'SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT/EXTERNAL' } });
    await expect(handler(imported)).resolves.toMatchObject({ PhysicalResourceId: ARN });
  });

  test('an answer without ARN is an error, not an empty physical ID', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: KEY_ID } });
    await expect(handler(event('Create'))).rejects.toThrow(`KMS described ${ARN} without an ARN or key ID`);
  });

  test('properties the construct did not write are refused before any call', async () => {
    await expect(handler(event('Create', { ResourceProperties: { ServiceToken: 'x', PrimaryStackName: '' } }))).rejects.toThrow(
      'The primary key lookup was called without PrimaryRegion, PrimaryStackName, OutputName, Account, KeyKind',
    );
    // Only the check that the event is its stack's.
    expect(cloudformation.commandCalls(DescribeStacksCommand, PRIMARY_STACK)).toHaveLength(0);
    expect(kms.calls()).toHaveLength(0);
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

  test('a primary stack naming another key is refused: it would replace the replica key', async () => {
    cloudformation.on(DescribeStacksCommand, PRIMARY_STACK).resolves(primaryStack(OTHER));
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary({ Arn: OTHER, KeyId: OTHER_ID }) });
    await expect(handler(event('Update'))).rejects.toThrow(
      `The primary key ${OTHER} of stack Orders-us-east-1 is not ${ARN}, which this replica was made from: a new primary would replace the replica key`,
    );
  });

  test('a new key kind replaced the primary: the replica is made again from the new one', async () => {
    cloudformation.on(DescribeStacksCommand, PRIMARY_STACK).resolves(primaryStack(OTHER));
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary({ Arn: OTHER, KeyId: OTHER_ID, KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }) });
    const changed = event('Update', { ResourceProperties: { ...PROPS, KeyKind: 'HMAC_256/GENERATE_VERIFY_MAC/AWS_KMS' } });
    await expect(handler(changed)).resolves.toEqual({ PhysicalResourceId: OTHER, Data: { Arn: OTHER, KeyId: OTHER_ID } });
  });

  test('a new key kind whose new primary is not made yet is refused, as on create', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primary({ KeyState: 'Creating', KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }) });
    const changed = event('Update', { ResourceProperties: { ...PROPS, KeyKind: 'HMAC_256/GENERATE_VERIFY_MAC/AWS_KMS' } });
    await expect(handler(changed)).rejects.toThrow('is still being created');
  });

  test('errors are explained as on create', async () => {
    cloudformation.on(DescribeStacksCommand, PRIMARY_STACK).rejects(awsError('ValidationError'));
    await expect(handler(event('Update'))).rejects.toThrow('there is no such stack');
  });
});

describe('delete', () => {
  test('answers the physical ID and calls nothing: the lookup made nothing', async () => {
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: ARN });
    expect(cloudformation.commandCalls(DescribeStacksCommand, PRIMARY_STACK)).toHaveLength(0);
    expect(kms.calls()).toHaveLength(0);
  });

  test('the delete after a failed create (no key ARN as physical ID) succeeds too, so the rollback completes', async () => {
    const failedCreate = event('Delete', { PhysicalResourceId: 'OrdersPrimaryKey-request' });
    await expect(handler(failedCreate)).resolves.toEqual({ PhysicalResourceId: 'OrdersPrimaryKey-request' });
    expect(kms.calls()).toHaveLength(0);
  });
});
