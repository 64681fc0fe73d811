/**
 * The handler of keys in a CloudHSM key store against mocked KMS and Resource Groups
 * Tagging API clients: create (and a retried create that finds the first attempt's key
 * by its tag, or by a bounded look through the account's keys), update of policy,
 * description and tags, a new store, delete, the marker every change needs, retries
 * while IAM propagates, and the errors CreateKey documents.
 * @see https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html#API_CreateKey_Errors
 */
import { createHash } from 'crypto';
import {
  CreateKeyCommand,
  DescribeKeyCommand,
  KMSClient,
  ListKeysCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateKeyDescriptionCommand,
} from '@aws-sdk/client-kms';
import { GetResourcesCommand, ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { awsError, customResourceEvent, mockCloudFormation, stackRecord, STACK_ID } from './support/handlers';
import { handler, RESOURCE_TAG } from '../src/key-store/hsm-key.lambda';

const stack = mockCloudFormation();

process.env.IAM_RETRY_MS = '0';
const kms = mockClient(KMSClient);
const tagging = mockClient(ResourceGroupsTaggingAPIClient);
const STORE_TAG = 'cdk-kms-constructs:custom-key-store';
const STORE = 'cks-1234567890abcdef0';
const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const ARN = `arn:aws:kms:us-east-1:111111111111:key/${KEY_ID}`;
const MARKER = createHash('sha256').update(`${STACK_ID}/PaymentsKey`).digest('hex');
const POLICY = { Version: '2012-10-17', Statement: [{ Sid: 'KeyAdministration', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:root' }, Action: 'kms:DescribeKey', Resource: '*' }] };
const PROPS = {
  ServiceToken: 'arn:aws:lambda:us-east-1:111111111111:function:framework',
  CustomKeyStoreId: STORE,
  Description: 'CONFIDENTIAL key Hsm/PaymentsKey',
  KeyPolicy: POLICY,
  PendingWindowInDays: '7',
  Tags: [{ Key: 'data-classification', Value: 'confidential' }, { Key: 'owner', Value: 'payments' }],
};

const RESOURCE = { resourceType: 'Custom::KmsHsmKey', logicalId: 'PaymentsKey', properties: PROPS, physicalId: KEY_ID };

function event(type: 'Create' | 'Update' | 'Delete', extra: Record<string, unknown> = {}): CloudFormationCustomResourceEvent {
  return customResourceEvent(RESOURCE, type, extra);
}

/**
 * The account's keys: id -> its store, state and tags; the Tagging API answers with
 * the tagged ones (it does not answer when `taggingFails`).
 */
function accountKeys(keys: Record<string, { store?: string; tags?: Record<string, string>; state?: string }>, taggingFails = false): void {
  kms.on(ListKeysCommand).resolves({ Keys: Object.keys(keys).map(KeyId => ({ KeyId })), Truncated: false });
  const known = (id: string) => {
    if (!keys[id]) throw awsError('NotFoundException');
    return keys[id];
  };
  kms.on(DescribeKeyCommand).callsFake(({ KeyId }) => ({
    KeyMetadata: { KeyId, Arn: `arn:aws:kms:us-east-1:111111111111:key/${KeyId}`, CustomKeyStoreId: known(KeyId).store, KeyState: known(KeyId).state ?? 'Enabled' },
  }));
  kms.on(ListResourceTagsCommand).callsFake(({ KeyId }) => ({
    Tags: Object.entries(known(KeyId).tags ?? {}).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
  }));
  if (taggingFails) {
    tagging.on(GetResourcesCommand).rejects(awsError('AccessDeniedException'));
    return;
  }
  tagging.on(GetResourcesCommand).callsFake(input => ({
    ResourceTagMappingList: Object.entries(keys)
      .filter(([, { tags }]) => input.TagFilters.every((f: { Key: string; Values: string[] }) => f.Values.includes(tags?.[f.Key] ?? '')))
      .map(([id]) => ({ ResourceARN: `arn:aws:kms:us-east-1:111111111111:key/${id}` })),
  }));
}

/** The key of the events carries this resource's marker. */
const OURS = { [KEY_ID]: { store: STORE, tags: { [RESOURCE_TAG]: MARKER } } };

beforeEach(() => {
  kms.reset();
  tagging.reset();
  stack.reset();
  stackRecord(stack);
  jest.spyOn(console, 'log').mockImplementation(() => {});
});

describe('create', () => {
  test('makes the key in the store with its policy, description and tags, and a tag naming the resource', async () => {
    accountKeys({ other: {} });
    kms.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: KEY_ID, Arn: ARN } });
    await expect(handler(event('Create'))).resolves.toEqual({ PhysicalResourceId: KEY_ID, Data: { Arn: ARN, KeyId: KEY_ID } });
    expect(kms.commandCalls(CreateKeyCommand)[0].args[0].input).toEqual({
      Origin: 'AWS_CLOUDHSM',
      CustomKeyStoreId: STORE,
      KeySpec: 'SYMMETRIC_DEFAULT',
      KeyUsage: 'ENCRYPT_DECRYPT',
      Description: PROPS.Description,
      Policy: JSON.stringify(POLICY),
      Tags: [
        { TagKey: 'data-classification', TagValue: 'confidential' }, { TagKey: 'owner', TagValue: 'payments' },
        { TagKey: RESOURCE_TAG, TagValue: MARKER }, { TagKey: STORE_TAG, TagValue: STORE },
      ],
    });
    // Found through the Tagging API: no look through the account's keys.
    expect(tagging.commandCalls(GetResourcesCommand)[0].args[0].input).toMatchObject({
      ResourceTypeFilters: ['kms:key'], TagFilters: [{ Key: RESOURCE_TAG, Values: [MARKER] }],
    });
    expect(kms.commandCalls(ListKeysCommand)).toHaveLength(0);
  });

  test('a retried create finds the key the first attempt made by its marker, syncs it, and makes no second key', async () => {
    accountKeys({ 'other-store': { store: 'cks-otherotherother0', tags: { [RESOURCE_TAG]: MARKER } }, ...OURS, 'plain': {} });
    await expect(handler(event('Create'))).resolves.toEqual({ PhysicalResourceId: KEY_ID, Data: { Arn: ARN, KeyId: KEY_ID } });
    expect(kms.commandCalls(CreateKeyCommand)).toHaveLength(0);
    expect(kms.commandCalls(PutKeyPolicyCommand)).toHaveLength(1);
    expect(kms.commandCalls(ListKeysCommand)).toHaveLength(0);
  });

  test('a key of this resource pending deletion (an earlier life of it) is not taken back', async () => {
    accountKeys({ [KEY_ID]: { store: STORE, tags: { [RESOURCE_TAG]: MARKER }, state: 'PendingDeletion' } });
    kms.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: 'abcdabcd-0000-0000-0000-000000000000', Arn: 'arn:new' } });
    await expect(handler(event('Create'))).resolves.toMatchObject({ PhysicalResourceId: 'abcdabcd-0000-0000-0000-000000000000' });
  });

  test('5,000 keys in the account: finding the first attempt\'s key costs a few calls, not one per key', async () => {
    const keys = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k-${i}`, { store: i % 2 ? STORE : undefined }]));
    accountKeys({ ...keys, ...OURS });
    await handler(event('Create'));
    const calls = kms.calls().length + tagging.calls().length;
    expect(calls).toBeLessThanOrEqual(10);
    expect(kms.commandCalls(CreateKeyCommand)).toHaveLength(0);
  });

  test('without the Tagging API, the account\'s keys are looked through instead, ten at a time', async () => {
    accountKeys({ 'other-store': { store: 'cks-otherotherother0', tags: { [RESOURCE_TAG]: MARKER } }, ...OURS, 'plain': {} }, true);
    await expect(handler(event('Create'))).resolves.toEqual({ PhysicalResourceId: KEY_ID, Data: { Arn: ARN, KeyId: KEY_ID } });
    expect(kms.commandCalls(CreateKeyCommand)).toHaveLength(0);
    expect(kms.commandCalls(ListResourceTagsCommand).map(c => c.args[0].input.KeyId)).toEqual([KEY_ID]);
  });

  test('keys the account may not describe are passed over', async () => {
    tagging.on(GetResourcesCommand).rejects(awsError('AccessDeniedException'));
    kms.on(ListKeysCommand).resolves({ Keys: [{ KeyId: 'locked' }], Truncated: false });
    kms.on(DescribeKeyCommand, { KeyId: 'locked' }).rejects(awsError('AccessDeniedException'));
    kms.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: KEY_ID, Arn: ARN } });
    await expect(handler(event('Create'))).resolves.toMatchObject({ PhysicalResourceId: KEY_ID });
  });

  test('every page of the account\'s keys is looked through', async () => {
    tagging.on(GetResourcesCommand).rejects(awsError('AccessDeniedException'));
    kms.on(ListKeysCommand).resolvesOnce({ Keys: [{ KeyId: 'a' }], Truncated: true, NextMarker: 'm' }).resolves({ Keys: [{ KeyId: KEY_ID }], Truncated: false });
    kms.on(DescribeKeyCommand, { KeyId: 'a' }).resolves({ KeyMetadata: { KeyId: 'a' } });
    kms.on(DescribeKeyCommand, { KeyId: KEY_ID }).resolves({ KeyMetadata: { KeyId: KEY_ID, Arn: ARN, CustomKeyStoreId: STORE } });
    kms.on(ListResourceTagsCommand).resolves({ Tags: [{ TagKey: RESOURCE_TAG, TagValue: MARKER }] });
    await expect(handler(event('Create'))).resolves.toMatchObject({ PhysicalResourceId: KEY_ID });
    expect(kms.commandCalls(ListKeysCommand)[1].args[0].input.Marker).toBe('m');
    expect(kms.commandCalls(CreateKeyCommand)).toHaveLength(0);
  });

  test.each([
    ['CustomKeyStoreInvalidStateException', 'a key is created only in a CONNECTED store'],
    ['CloudHsmClusterInvalidConfigurationException', 'two active HSMs in different Availability Zones'],
    ['CustomKeyStoreNotFoundException', 'the custom key store no longer exists'],
    ['MalformedPolicyDocumentException', 'KMS refused the key policy'],
    ['LimitExceededException', 'a KMS quota of the account and Region is reached'],
    ['KMSInternalException', 'retry the deployment'],
  ])('%s becomes what to do', async (name, remedy) => {
    accountKeys({});
    kms.on(CreateKeyCommand).rejects(awsError(name));
    await expect(handler(event('Create'))).rejects.toThrow(new RegExp(`^Cannot create a key in custom key store ${STORE}: .*${remedy.replace(/[()]/g, '.')}`));
  });

  test('a policy refused while IAM propagates a new role is tried again, with backoff, until KMS takes it', async () => {
    accountKeys({});
    kms.on(CreateKeyCommand)
      .rejectsOnce(awsError('MalformedPolicyDocumentException', 'Policy contains a statement with one or more invalid principals.'))
      .rejectsOnce(awsError('MalformedPolicyDocumentException', 'Policy contains a statement with one or more invalid principals.'))
      .resolves({ KeyMetadata: { KeyId: KEY_ID, Arn: ARN } });
    await expect(handler(event('Create'))).resolves.toMatchObject({ PhysicalResourceId: KEY_ID });
    expect(kms.commandCalls(CreateKeyCommand)).toHaveLength(3);
  });

  test('the retries are bounded: six refusals fail the deployment with what to do', async () => {
    accountKeys({});
    kms.on(CreateKeyCommand).rejects(awsError('MalformedPolicyDocumentException'));
    await expect(handler(event('Create'))).rejects.toThrow('KMS refused the key policy');
    expect(kms.commandCalls(CreateKeyCommand)).toHaveLength(6);
  });

  test('another error is not retried', async () => {
    accountKeys({});
    kms.on(CreateKeyCommand).rejects(awsError('LimitExceededException'));
    await expect(handler(event('Create'))).rejects.toThrow('a KMS quota');
    expect(kms.commandCalls(CreateKeyCommand)).toHaveLength(1);
  });

  test('tags of the library\'s own keys in the properties never reach the key: the marker is the handler\'s alone', async () => {
    accountKeys({});
    kms.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: KEY_ID, Arn: ARN } });
    await handler(event('Create', { ResourceProperties: { ...PROPS, Tags: [{ Key: RESOURCE_TAG, Value: 'forged' }] } }));
    expect(kms.commandCalls(CreateKeyCommand)[0].args[0].input.Tags).toEqual([
      { TagKey: RESOURCE_TAG, TagValue: MARKER }, { TagKey: STORE_TAG, TagValue: STORE },
    ]);
  });

  test('properties the construct did not write are refused before any call', async () => {
    await expect(handler(event('Create', { ResourceProperties: { ServiceToken: 'x', CustomKeyStoreId: STORE } }))).rejects.toThrow(
      'The HSM key handler was called without Description, PendingWindowInDays, KeyPolicy',
    );
    expect(kms.calls()).toHaveLength(0);
  });
});

describe('update', () => {
  beforeEach(() => {
    accountKeys(OURS);
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: KEY_ID, Arn: ARN } });
  });

  test('only what changed is written: the policy', async () => {
    const policy = { ...POLICY, Statement: [...POLICY.Statement, { Sid: 'KeyUsage', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:role/App' }, Action: 'kms:Decrypt', Resource: '*' }] };
    await expect(handler(event('Update', { ResourceProperties: { ...PROPS, KeyPolicy: policy } }))).resolves.toEqual({ PhysicalResourceId: KEY_ID, Data: { Arn: ARN, KeyId: KEY_ID } });
    expect(kms.commandCalls(PutKeyPolicyCommand)[0].args[0].input).toEqual({ KeyId: KEY_ID, PolicyName: 'default', Policy: JSON.stringify(policy) });
    expect(kms.commandCalls(UpdateKeyDescriptionCommand)).toHaveLength(0);
    expect(kms.commandCalls(TagResourceCommand)).toHaveLength(0);
  });

  test('the description and the tags, removing the ones no longer there and never the resource tag', async () => {
    await handler(event('Update', { ResourceProperties: { ...PROPS, Description: 'new', Tags: [{ Key: 'data-classification', Value: 'restricted' }] } }));
    expect(kms.commandCalls(UpdateKeyDescriptionCommand)[0].args[0].input).toEqual({ KeyId: KEY_ID, Description: 'new' });
    expect(kms.commandCalls(UntagResourceCommand)[0].args[0].input).toEqual({ KeyId: KEY_ID, TagKeys: ['owner'] });
    expect(kms.commandCalls(TagResourceCommand)[0].args[0].input).toEqual({
      KeyId: KEY_ID, Tags: [{ TagKey: 'data-classification', TagValue: 'restricted' }, { TagKey: STORE_TAG, TagValue: STORE }],
    });
    expect(kms.commandCalls(PutKeyPolicyCommand)).toHaveLength(0);
  });

  test('a policy update refused while IAM propagates is tried again', async () => {
    kms.on(PutKeyPolicyCommand).rejectsOnce(awsError('MalformedPolicyDocumentException')).resolves({});
    await handler(event('Update', { ResourceProperties: { ...PROPS, KeyPolicy: { ...POLICY, Id: 'x' } } }));
    expect(kms.commandCalls(PutKeyPolicyCommand)).toHaveLength(2);
  });

  test('a key without this resource\'s marker is not changed, whatever the event says', async () => {
    accountKeys({ [KEY_ID]: { store: STORE, tags: { [RESOURCE_TAG]: 'another-resource' } } });
    await expect(handler(event('Update', { ResourceProperties: { ...PROPS, KeyPolicy: { ...POLICY, Id: 'x' } } })))
      .rejects.toThrow(`key ${KEY_ID} was made by another custom resource, so it is not this resource's key. The HSM key handler changed nothing`);
    accountKeys({ [KEY_ID]: { store: STORE } });
    await expect(handler(event('Update', { ResourceProperties: { ...PROPS, KeyPolicy: { ...POLICY, Id: 'x' } } })))
      .rejects.toThrow(`key ${KEY_ID} has no ${RESOURCE_TAG} tag`);
    expect(kms.commandCalls(PutKeyPolicyCommand)).toHaveLength(0);
  });

  test('a new store makes a new key, for CloudFormation to replace the old one', async () => {
    accountKeys({});
    kms.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: 'abcdabcd-0000-0000-0000-000000000000', Arn: 'arn:new' } });
    await expect(handler(event('Update', { ResourceProperties: { ...PROPS, CustomKeyStoreId: 'cks-newnewnewnewnew00' } })))
      .resolves.toEqual({ PhysicalResourceId: 'abcdabcd-0000-0000-0000-000000000000', Data: { Arn: 'arn:new', KeyId: 'abcdabcd-0000-0000-0000-000000000000' } });
  });

  test('a refused change names the key and what to do', async () => {
    kms.on(PutKeyPolicyCommand).rejects(awsError('MalformedPolicyDocumentException'));
    // (after the bounded retries)
    await expect(handler(event('Update', { ResourceProperties: { ...PROPS, KeyPolicy: { ...POLICY, Id: 'x' } } })))
      .rejects.toThrow(`Cannot update the key policy of key ${KEY_ID}: KMS refused the key policy`);
  });
});

describe('delete', () => {
  beforeEach(() => accountKeys(OURS));

  test('schedules the deletion with the pending window', async () => {
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: KEY_ID });
    expect(kms.commandCalls(ScheduleKeyDeletionCommand)[0].args[0].input).toEqual({ KeyId: KEY_ID, PendingWindowInDays: 7 });
  });

  test.each(['NotFoundException', 'KMSInvalidStateException'])('a key gone or already pending deletion (%s) is done', async name => {
    kms.on(ScheduleKeyDeletionCommand).rejects(awsError(name));
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: KEY_ID });
  });

  test('after a failed create (no key ID) nothing is called', async () => {
    await expect(handler(event('Delete', { PhysicalResourceId: 'PaymentsKey-request' }))).resolves.toEqual({ PhysicalResourceId: 'PaymentsKey-request' });
    expect(kms.calls()).toHaveLength(0);
  });

  test('a key already gone is done: nothing to schedule', async () => {
    kms.on(ListResourceTagsCommand).rejects(awsError('NotFoundException'));
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: KEY_ID });
    expect(kms.commandCalls(ScheduleKeyDeletionCommand)).toHaveLength(0);
  });

  test('a key without this resource\'s marker is never scheduled for deletion', async () => {
    accountKeys({ [KEY_ID]: { store: STORE, tags: { [RESOURCE_TAG]: 'another-resource' } } });
    await expect(handler(event('Delete'))).rejects.toThrow('so it is not this resource\'s key');
    expect(kms.commandCalls(ScheduleKeyDeletionCommand)).toHaveLength(0);
  });

  test('another error fails with what to do', async () => {
    kms.on(ScheduleKeyDeletionCommand).rejects(awsError('CustomKeyStoreInvalidStateException'));
    await expect(handler(event('Delete'))).rejects.toThrow(`Cannot schedule the deletion of key ${KEY_ID}: the custom key store is not in a state that allows this`);
  });
});
