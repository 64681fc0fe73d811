/**
 * The handlers of CustomKeyStore against mocked KMS, Secrets Manager, CloudHSM and
 * Tagging API clients: create (and adopting only its own earlier store), update and
 * delete (onEvent), when the kmsuser password is sent and when it never is, rollbacks,
 * the wait for the connection (isComplete) in each state, every ConnectionErrorCode of
 * a CloudHSM key store, and the errors the calls document.
 * @see https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateCustomKeyStore.html#API_CreateCustomKeyStore_Errors
 */
process.env.KEY_STORE_POLL_MS = '0';
import { createHash } from 'crypto';
import * as cloudhsmSdk from '@aws-sdk/client-cloudhsm-v2';
import {
  ConnectCustomKeyStoreCommand,
  ConnectionErrorCodeType,
  CreateCustomKeyStoreCommand,
  CustomKeyStoresListEntry,
  DeleteCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  DisconnectCustomKeyStoreCommand,
  KMSClient,
  ListKeysCommand,
  UpdateCustomKeyStoreCommand,
} from '@aws-sdk/client-kms';
import { GetResourcesCommand, ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { awsError, customResourceEvent, failure, mockCloudFormation, STACK_ID, stackRecord } from './support/handlers';
import { handler as waitForConnection } from '../src/key-store/custom-key-store-connection.lambda';
import { handler } from '../src/key-store/custom-key-store.lambda';

const stack = mockCloudFormation();
import { CONNECTION_ERRORS } from '../src/key-store/key-store-errors';

const kms = mockClient(KMSClient);
const secrets = mockClient(SecretsManagerClient);
/*
 * @aws-sdk/client-cloudhsm-v2 3.332.0 is built on older smithy types than aws-sdk-client-mock 4
 * (see cloudhsm-initialization.lambda.test.ts): its client and commands are given to the mock as its own types.
 */
const cloudhsm = mockClient(cloudhsmSdk.CloudHSMV2Client as unknown as Parameters<typeof mockClient>[0]);
const ListTagsCommand = cloudhsmSdk.ListTagsCommand as never;
const TagResourceCommand = cloudhsmSdk.TagResourceCommand as never;
const tagging = mockClient(ResourceGroupsTaggingAPIClient);
/** The marker of the test's resource, on the cluster of the store it made. */
const MARKER = createHash('sha256').update(`${STACK_ID}/Store`).digest('hex');
const MARKER_TAG = 'cdk-kms-constructs:custom-key-store';
const VERSION_TAG = 'cdk-kms-constructs:kmsuser-password-version';
const SECRET_VERSION_TAG = 'cdk-kms-constructs:kmsuser-secret-version';
const ID = 'cks-1234567890abcdef0';
const SECRET = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:kmsuser-AbCdEf';
const PROPS = {
  ServiceToken: 'arn:aws:lambda:us-east-1:111111111111:function:framework',
  CustomKeyStoreName: 'payments-hsm',
  CloudHsmClusterId: 'cluster-1a23b4cdefg',
  TrustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
  PasswordSecretArn: SECRET,
};

const RESOURCE = { resourceType: 'Custom::KmsCustomKeyStore', logicalId: 'Store', properties: PROPS, physicalId: ID };

function event(type: 'Create' | 'Update' | 'Delete', extra: Record<string, unknown> = {}): CloudFormationCustomResourceEvent {
  return customResourceEvent(RESOURCE, type, extra);
}

function store(state: string, extra: Partial<CustomKeyStoresListEntry> = {}): { CustomKeyStores: CustomKeyStoresListEntry[] } {
  return {
    CustomKeyStores: [{
      CustomKeyStoreId: ID,
      CustomKeyStoreName: PROPS.CustomKeyStoreName,
      CloudHsmClusterId: PROPS.CloudHsmClusterId,
      TrustAnchorCertificate: PROPS.TrustAnchorCertificate,
      ConnectionState: state as CustomKeyStoresListEntry['ConnectionState'],
      ...extra,
    }],
  };
}

const notFound = () => awsError('CustomKeyStoreNotFoundException');

/** The cluster's tags: the marker of the resource that made its store, when one did. */
function clusterMarker(marker: string | undefined): void {
  cloudhsm.on(ListTagsCommand).resolves({ TagList: marker ? [{ Key: MARKER_TAG, Value: marker }] : [] } as never);
}

/** No store of that name yet, and none on the cluster. */
function noStoreYet(): void {
  kms.on(DescribeCustomKeyStoresCommand).resolves({ CustomKeyStores: [] });
  kms.on(DescribeCustomKeyStoresCommand, { CustomKeyStoreName: 'payments-hsm' }).rejects(notFound());
}

/** When a call was made, across the mocks (sinon numbers every call). */
const callOrder = (call: unknown) => (call as { callId: number }).callId;

/** The AWS calls that change something (what a refused event must not make). */
function mutatingCalls(): string[] {
  return [...kms.calls(), ...cloudhsm.calls(), ...secrets.calls()]
    .map(call => (call.args[0] as object).constructor.name)
    .filter(name => !/^(Describe|List|Get)/.test(name));
}

beforeEach(() => {
  stack.reset();
  stackRecord(stack);
  kms.reset();
  secrets.reset();
  cloudhsm.reset();
  tagging.reset();
  tagging.on(GetResourcesCommand).resolves({ ResourceTagMappingList: [] });
  clusterMarker(MARKER);
  secrets.on(GetSecretValueCommand).resolves({ SecretString: 'correct-horse-1', VersionId: 'secret-v1' });
  jest.spyOn(console, 'log').mockImplementation(() => {});
});

describe('create', () => {
  test('creates the store with the password from its secret, and starts connecting it', async () => {
    noStoreYet();
    kms.on(CreateCustomKeyStoreCommand).resolves({ CustomKeyStoreId: ID });
    kms.on(DescribeCustomKeyStoresCommand, { CustomKeyStoreId: ID }).resolves(store('DISCONNECTED'));
    await expect(handler(event('Create'))).resolves.toEqual({ PhysicalResourceId: ID, Data: { CustomKeyStoreId: ID } });
    expect(kms.commandCalls(CreateCustomKeyStoreCommand)[0].args[0].input).toEqual({
      CustomKeyStoreName: 'payments-hsm',
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      CloudHsmClusterId: 'cluster-1a23b4cdefg',
      TrustAnchorCertificate: PROPS.TrustAnchorCertificate,
      KeyStorePassword: 'correct-horse-1',
    });
    expect(secrets.commandCalls(GetSecretValueCommand)[0].args[0].input).toEqual({ SecretId: SECRET });
    expect(kms.commandCalls(ConnectCustomKeyStoreCommand)).toHaveLength(1);
    // The cluster is marked first, so that a retry knows the store for this resource's.
    expect((cloudhsm.commandCalls(TagResourceCommand)[0].args[0] as { input: unknown }).input).toEqual({
      ResourceId: 'cluster-1a23b4cdefg',
      TagList: [{ Key: MARKER_TAG, Value: MARKER }, { Key: VERSION_TAG, Value: '' }, { Key: SECRET_VERSION_TAG, Value: 'secret-v1' }],
    });
    expect(callOrder(cloudhsm.commandCalls(TagResourceCommand)[0])).toBeLessThan(callOrder(kms.commandCalls(CreateCustomKeyStoreCommand)[0]));
  });

  test('the trust anchor is sent in one normal form: a pasted certificate with CRLF line ends and a trailing newline is the same', async () => {
    noStoreYet();
    kms.on(CreateCustomKeyStoreCommand).resolves({ CustomKeyStoreId: ID });
    await handler(event('Create', { ResourceProperties: { ...PROPS, TrustAnchorCertificate: `${PROPS.TrustAnchorCertificate.replace(/\n/g, '\r\n')}\r\n\r\n` } }));
    expect(kms.commandCalls(CreateCustomKeyStoreCommand)[0].args[0].input.TrustAnchorCertificate).toBe(PROPS.TrustAnchorCertificate);
  });

  test('a cluster another store already uses is refused by name, before the cluster is marked', async () => {
    const other = { ...store('CONNECTED').CustomKeyStores[0], CustomKeyStoreId: 'cks-0ther00000000000', CustomKeyStoreName: 'other' };
    kms.on(DescribeCustomKeyStoresCommand).callsFake(input => {
      if (input.CustomKeyStoreName) throw notFound();
      return { CustomKeyStores: [other] };
    });
    await expect(handler(event('Create'))).rejects.toThrow('custom key store cks-0ther00000000000 (other) already uses that cluster, and KMS allows one store per cluster');
    expect(mutatingCalls()).toEqual([]);
  });

  test('a JSON secret gives its password field', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'kmsuser', password: 'from-json-1' }) });
    noStoreYet();
    kms.on(CreateCustomKeyStoreCommand).resolves({ CustomKeyStoreId: ID });
    kms.on(DescribeCustomKeyStoresCommand, { CustomKeyStoreId: ID }).resolves(store('DISCONNECTED'));
    await handler(event('Create'));
    expect(kms.commandCalls(CreateCustomKeyStoreCommand)[0].args[0].input.KeyStorePassword).toBe('from-json-1');
  });

  test('a retried create finds the store the first attempt made, and creates no second one', async () => {
    kms.on(DescribeCustomKeyStoresCommand, { CustomKeyStoreName: 'payments-hsm' }).resolves(store('CONNECTING'));
    kms.on(DescribeCustomKeyStoresCommand, { CustomKeyStoreId: ID }).resolves(store('CONNECTING'));
    await expect(handler(event('Create'))).resolves.toEqual({ PhysicalResourceId: ID, Data: { CustomKeyStoreId: ID } });
    expect(kms.commandCalls(CreateCustomKeyStoreCommand)).toHaveLength(0);
    expect(kms.commandCalls(ConnectCustomKeyStoreCommand)).toHaveLength(0);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  test('a store of that name that this resource did not make is never adopted: refused by name', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED'));
    clusterMarker(undefined);
    await expect(handler(event('Create'))).rejects.toThrow(`A custom key store named payments-hsm already exists (${ID}) on cluster cluster-1a23b4cdefg, `
      + 'and this resource did not make it (it was made outside this library): CustomKeyStore adopts only its own earlier attempt');
    clusterMarker('another-resource');
    await expect(handler(event('Create'))).rejects.toThrow('(another custom resource did)');
    expect(mutatingCalls()).toEqual([]);
  });

  test('a store of the same name for another cluster, or another trust anchor, is refused', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED', { CloudHsmClusterId: 'cluster-zzzzzzzzzzz' }));
    await expect(handler(event('Create'))).rejects.toThrow(`A custom key store named payments-hsm already exists (${ID}) for cluster cluster-zzzzzzzzzzz, not cluster-1a23b4cdefg: choose another customKeyStoreName`);
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED', { TrustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nOTHER\n-----END CERTIFICATE-----' }));
    await expect(handler(event('Create'))).rejects.toThrow(`already exists (${ID}) for cluster cluster-1a23b4cdefg with another trust anchor: choose another customKeyStoreName`);
  });

  test('a retried create that finds its store FAILED reconnects it without a password: KMS holds kmsuser\'s', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolvesOnce(store('FAILED')).resolvesOnce(store('FAILED')).resolvesOnce(store('FAILED')).resolves(store('DISCONNECTED'));
    await handler(event('Create'));
    expect(kms.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(1);
    expect(kms.commandCalls(UpdateCustomKeyStoreCommand)).toHaveLength(0);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    expect(kms.commandCalls(ConnectCustomKeyStoreCommand)).toHaveLength(1);
  });

  test('a retried create that finds its store FAILED on INVALID_CREDENTIALS gives it the secret\'s password and reconnects it', async () => {
    const failed = store('FAILED', { ConnectionErrorCode: 'INVALID_CREDENTIALS' });
    kms.on(DescribeCustomKeyStoresCommand).resolvesOnce(failed).resolvesOnce(failed).resolvesOnce(failed).resolves(store('DISCONNECTED'));
    await handler(event('Create'));
    expect(kms.commandCalls(UpdateCustomKeyStoreCommand)[0].args[0].input).toEqual({ CustomKeyStoreId: ID, KeyStorePassword: 'correct-horse-1' });
    expect(kms.commandCalls(ConnectCustomKeyStoreCommand)).toHaveLength(1);
  });

  test.each([
    ['CloudHsmClusterNotActiveException', 'the cluster is not ACTIVE: initialize it (InitializeCluster with its signed certificate) and activate it with the CloudHSM CLI (cluster activate), then create the kmsuser crypto user'],
    ['CloudHsmClusterInvalidConfigurationException', 'two active HSMs in different Availability Zones, and a security group that allows TCP 2223-2225 from itself'],
    ['CloudHsmClusterInUseException', 'KMS allows one store per cluster'],
    ['CloudHsmClusterNotFoundException', 'there is no such cluster in this account and Region'],
    ['IncorrectTrustAnchorException', 'trustAnchorCertificate is not the certificate the cluster was initialized with (customerCA.crt)'],
    ['CustomKeyStoreNameInUseException', 'another custom key store of the account and Region has this name'],
    ['LimitExceededException', 'a KMS quota of the account and Region is reached'],
    ['KMSInternalException', 'this is transient, retry the deployment'],
  ])('%s becomes the missing step', async (name, remedy) => {
    noStoreYet();
    kms.on(CreateCustomKeyStoreCommand).rejects(awsError(name));
    const error = await failure(handler(event('Create')));
    expect(error.message).toMatch(/^Cannot create custom key store payments-hsm for cluster cluster-1a23b4cdefg: /);
    expect(error.message).toContain(remedy);
    expect(error.message).toContain(`(${name}: ${name} from AWS)`);
  });

  test.each([
    ['ResourceNotFoundException', 'the kmsUserPassword secret does not exist'],
    ['DecryptionFailure', 'the handler\'s role needs kms:Decrypt on that key through Secrets Manager'],
    ['AccessDeniedException', 'the handler\'s role may not make this call'],
  ])('the secret: %s', async (name, remedy) => {
    noStoreYet();
    secrets.on(GetSecretValueCommand).rejects(awsError(name));
    const error = await failure(handler(event('Create')));
    expect(error.message).toMatch(new RegExp(`^Cannot read the kmsuser password from ${SECRET}: `));
    expect(error.message).toContain(remedy);
    expect(kms.commandCalls(CreateCustomKeyStoreCommand)).toHaveLength(0);
  });

  test.each([['short', 'abc'], ['long', 'x'.repeat(33)]])('a %s password is refused without showing it', async (_name, password) => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: password });
    noStoreYet();
    const error = await failure(handler(event('Create')));
    expect(error.message).toBe(`The kmsuser password in ${SECRET} must be 7 to 32 characters, as KMS requires; it has ${password.length}`);
    expect(error.message).not.toContain(password);
  });

  test('a binary secret is refused', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1]) });
    noStoreYet();
    await expect(handler(event('Create'))).rejects.toThrow('has no string value');
  });

  test('properties the construct did not write are refused before any call', async () => {
    await expect(handler(event('Create', { ResourceProperties: { ServiceToken: 'x' } }))).rejects.toThrow(
      'The custom key store handler was called without CustomKeyStoreName, CloudHsmClusterId, TrustAnchorCertificate, PasswordSecretArn',
    );
    expect(kms.calls()).toHaveLength(0);
  });
});

describe('update', () => {
  test('a new name is set in place, connected', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED'));
    const renamed = event('Update', { ResourceProperties: { ...PROPS, CustomKeyStoreName: 'payments-hsm-2' } });
    await expect(handler(renamed)).resolves.toEqual({ PhysicalResourceId: ID, Data: { CustomKeyStoreId: ID } });
    expect(kms.commandCalls(UpdateCustomKeyStoreCommand)[0].args[0].input).toEqual({ CustomKeyStoreId: ID, NewCustomKeyStoreName: 'payments-hsm-2' });
    expect(kms.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(0);
  });

  test('a new password secret leaves a CONNECTED store connected: KMS changes the password at each connection', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED'));
    await handler(event('Update', { ResourceProperties: { ...PROPS, PasswordSecretArn: `${SECRET}-2` } }));
    expect(kms.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(0);
    expect(kms.commandCalls(UpdateCustomKeyStoreCommand)).toHaveLength(0);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  test('a new password version reconnects a FAILED store with the secret\'s current password', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolvesOnce(store('FAILED', { ConnectionErrorCode: 'INVALID_CREDENTIALS' }))
      .resolvesOnce(store('FAILED', { ConnectionErrorCode: 'INVALID_CREDENTIALS' }))
      .resolvesOnce(store('FAILED')).resolvesOnce(store('DISCONNECTING')).resolves(store('DISCONNECTED'));
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'reset-password-2' });
    await handler(event('Update', { ResourceProperties: { ...PROPS, PasswordVersion: '2' } }));
    expect(kms.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(1);
    expect(kms.commandCalls(UpdateCustomKeyStoreCommand)[0].args[0].input).toEqual({ CustomKeyStoreId: ID, KeyStorePassword: 'reset-password-2' });
    expect(kms.commandCalls(ConnectCustomKeyStoreCommand)).toHaveLength(1);
  });

  test('a new password version sends the secret\'s password even to a CONNECTED store: the user reset kmsuser to it', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolvesOnce(store('CONNECTED')).resolvesOnce(store('CONNECTED')).resolvesOnce(store('CONNECTED'))
      .resolves(store('DISCONNECTED'));
    await handler(event('Update', { ResourceProperties: { ...PROPS, PasswordVersion: '2' } }));
    expect(kms.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(1);
    expect(kms.commandCalls(UpdateCustomKeyStoreCommand)[0].args[0].input).toEqual({ CustomKeyStoreId: ID, KeyStorePassword: 'correct-horse-1' });
    expect(kms.commandCalls(ConnectCustomKeyStoreCommand)).toHaveLength(1);
  });

  test('a related cluster disconnects, moves the store and reconnects, with no password: KMS keeps kmsuser\'s', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolvesOnce(store('CONNECTED')).resolvesOnce(store('CONNECTED')).resolves(store('DISCONNECTED'));
    await handler(event('Update', { ResourceProperties: { ...PROPS, CloudHsmClusterId: 'cluster-9z99z9zzzzz' } }));
    expect(kms.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(1);
    expect(kms.commandCalls(UpdateCustomKeyStoreCommand)[0].args[0].input).toEqual({ CustomKeyStoreId: ID, CloudHsmClusterId: 'cluster-9z99z9zzzzz' });
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    expect(kms.commandCalls(ConnectCustomKeyStoreCommand)).toHaveLength(1);
    // The new cluster carries the marker.
    expect((cloudhsm.commandCalls(TagResourceCommand)[0].args[0] as { input: unknown }).input).toEqual({
      ResourceId: 'cluster-9z99z9zzzzz', TagList: [{ Key: MARKER_TAG, Value: MARKER }, { Key: VERSION_TAG, Value: '' }],
    });
    // The record is read from the cluster the handler's policy names: the new one.
    expect(cloudhsm.commandCalls(ListTagsCommand).map(call => (call.args[0] as { input: { ResourceId: string } }).input.ResourceId)).toEqual(['cluster-9z99z9zzzzz']);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  test('a DISCONNECTED store found by an update is reconnected with no password', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('DISCONNECTED'));
    await handler(event('Update', { ResourceProperties: { ...PROPS, CustomKeyStoreName: 'payments-hsm-2' } }));
    expect(kms.commandCalls(UpdateCustomKeyStoreCommand).map(c => c.args[0].input)).toEqual([{ CustomKeyStoreId: ID, NewCustomKeyStoreName: 'payments-hsm-2' }]);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    expect(kms.commandCalls(ConnectCustomKeyStoreCommand)).toHaveLength(1);
  });

  describe('what KMS was last given is the cluster\'s record, not the event\'s', () => {
    const recorded = (version: string, secretVersion = 'secret-v1') => cloudhsm.on(ListTagsCommand).resolves({
      TagList: [{ Key: MARKER_TAG, Value: MARKER }, { Key: VERSION_TAG, Value: version }, { Key: SECRET_VERSION_TAG, Value: secretVersion }],
    } as never);

    test('an event whose old properties claim another version sends no password when the version is the one KMS was given', async () => {
      recorded('2');
      kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED'));
      await handler(event('Update', { OldResourceProperties: { ...PROPS, PasswordVersion: '1' }, ResourceProperties: { ...PROPS, PasswordVersion: '2' } }));
      expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
      expect(mutatingCalls()).toEqual([]);
    });

    test('a version other than the recorded one sends the password, and records it', async () => {
      recorded('2');
      kms.on(DescribeCustomKeyStoresCommand).resolvesOnce(store('CONNECTED')).resolvesOnce(store('CONNECTED')).resolvesOnce(store('CONNECTED'))
        .resolves(store('DISCONNECTED'));
      await handler(event('Update', { OldResourceProperties: { ...PROPS, PasswordVersion: '3' }, ResourceProperties: { ...PROPS, PasswordVersion: '3' } }));
      expect(kms.commandCalls(UpdateCustomKeyStoreCommand)[0].args[0].input).toEqual({ CustomKeyStoreId: ID, KeyStorePassword: 'correct-horse-1' });
      expect((cloudhsm.commandCalls(TagResourceCommand)[0].args[0] as { input: unknown }).input).toEqual({
        ResourceId: 'cluster-1a23b4cdefg', TagList: [{ Key: VERSION_TAG, Value: '3' }, { Key: SECRET_VERSION_TAG, Value: 'secret-v1' }],
      });
    });

    test('a connection refused for its credentials with the secret unchanged since KMS was given it: the recovery, and no password sent again', async () => {
      recorded('');
      const failed = store('FAILED', { ConnectionErrorCode: 'INVALID_CREDENTIALS' });
      kms.on(DescribeCustomKeyStoresCommand).resolves(failed);
      const error = await failure(handler(event('Update', { ResourceProperties: { ...PROPS, CustomKeyStoreName: 'payments-hsm' } })));
      expect(error.message).toContain('the kmsUserPassword secret still holds the password KMS was last given (secret version secret-v1)');
      expect(error.message).toContain('user change-password --username kmsuser --role crypto-user');
      expect(kms.commandCalls(UpdateCustomKeyStoreCommand)).toHaveLength(0);
      expect(kms.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(0);
    });

    test('the same refusal with a new secret version sends the new password once', async () => {
      recorded('', 'secret-v0');
      const failed = store('FAILED', { ConnectionErrorCode: 'INVALID_CREDENTIALS' });
      kms.on(DescribeCustomKeyStoresCommand).resolvesOnce(failed).resolvesOnce(failed).resolvesOnce(failed).resolves(store('DISCONNECTED'));
      await handler(event('Update'));
      expect(kms.commandCalls(UpdateCustomKeyStoreCommand)[0].args[0].input).toEqual({ CustomKeyStoreId: ID, KeyStorePassword: 'correct-horse-1' });
    });
  });

  describe('a rollback', () => {
    beforeEach(() => stackRecord(stack, { stackStatus: 'UPDATE_ROLLBACK_IN_PROGRESS' }));

    test('back to the old password version sends no password: it would send again the one that just failed', async () => {
      const failed = store('FAILED', { ConnectionErrorCode: 'INVALID_CREDENTIALS' });
      kms.on(DescribeCustomKeyStoresCommand).resolvesOnce(failed).resolvesOnce(failed).resolvesOnce(failed).resolves(store('DISCONNECTED'));
      await handler(event('Update', { OldResourceProperties: { ...PROPS, PasswordVersion: '2' } }));
      expect(kms.commandCalls(UpdateCustomKeyStoreCommand)).toHaveLength(0);
      expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
      expect(kms.commandCalls(ConnectCustomKeyStoreCommand)).toHaveLength(1);
    });

    test('back to the old cluster moves the store with no password', async () => {
      kms.on(DescribeCustomKeyStoresCommand).resolvesOnce(store('CONNECTED', { CloudHsmClusterId: 'cluster-9z99z9zzzzz' }))
        .resolvesOnce(store('CONNECTED')).resolves(store('DISCONNECTED'));
      await handler(event('Update', { OldResourceProperties: { ...PROPS, CloudHsmClusterId: 'cluster-9z99z9zzzzz', PasswordVersion: '2' } }));
      expect(kms.commandCalls(UpdateCustomKeyStoreCommand)[0].args[0].input).toEqual({ CustomKeyStoreId: ID, CloudHsmClusterId: 'cluster-1a23b4cdefg' });
      expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    });

    test('its wait ends on a FAILED connection, reporting it, so that the rollback completes', async () => {
      kms.on(DescribeCustomKeyStoresCommand).resolves(store('FAILED', { ConnectionErrorCode: 'INVALID_CREDENTIALS' }));
      await expect(waitForConnection({ ...event('Update'), PhysicalResourceId: ID })).resolves.toEqual({ IsComplete: true, Data: { CustomKeyStoreId: ID } });
      expect(console.log).toHaveBeenCalledWith(expect.stringContaining('The rollback leaves the store as it is'));
    });
  });

  test('a cluster of another lineage is refused with the reason', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolvesOnce(store('CONNECTED')).resolves(store('DISCONNECTED'));
    kms.on(UpdateCustomKeyStoreCommand).rejects(awsError('CloudHsmClusterNotRelatedException'));
    await expect(handler(event('Update', { ResourceProperties: { ...PROPS, CloudHsmClusterId: 'cluster-9z99z9zzzzz' } })))
      .rejects.toThrow('a store may move only to a cluster made from a backup of its cluster');
  });

  test('a store that does not disconnect in time is an error to retry', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED'));
    const spy = jest.spyOn(Date, 'now');
    let now = 0;
    spy.mockImplementation(() => (now += 60_000));
    await expect(handler(event('Update', { ResourceProperties: { ...PROPS, CloudHsmClusterId: 'cluster-9z99z9zzzzz' } })))
      .rejects.toThrow(`Custom key store ${ID} is still CONNECTED after 150 s of disconnecting; retry the deployment`);
    spy.mockRestore();
  });

  test('a new trust anchor is refused: KMS cannot change it', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED'));
    await expect(handler(event('Update', { ResourceProperties: { ...PROPS, TrustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nOTHER\n-----END CERTIFICATE-----' } })))
      .rejects.toThrow(`trustAnchorCertificate of custom key store ${ID} cannot change: KMS has no call to change it`);
    expect(mutatingCalls()).toEqual([]);
  });

  test('the same trust anchor pasted with other line ends is no change: it is compared with the store\'s in one normal form', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED'));
    const pasted = `  ${PROPS.TrustAnchorCertificate.replace(/\n/g, '\r\n')}\n\n`;
    await expect(handler(event('Update', { ResourceProperties: { ...PROPS, TrustAnchorCertificate: pasted } }))).resolves.toMatchObject({ PhysicalResourceId: ID });
    expect(mutatingCalls()).toEqual([]);
  });

  test.each([
    ['DISCONNECTED', undefined, 0, 0, 1],
    ['FAILED', 'NETWORK_ERRORS', 1, 0, 1],
    ['FAILED', 'INVALID_CREDENTIALS', 1, 1, 1],
    ['FAILED', 'USER_LOCKED_OUT', 1, 1, 1],
    ['CONNECTED', undefined, 0, 0, 0],
    ['CONNECTING', undefined, 0, 0, 0],
  ])('with nothing changed, a %s store (%s) is reconnected as needed, with the password only when KMS\'s was refused', async (state, code, disconnects, passwords, connects) => {
    const found = store(state as string, code ? { ConnectionErrorCode: code as CustomKeyStoresListEntry['ConnectionErrorCode'] } : {});
    kms.on(DescribeCustomKeyStoresCommand).resolvesOnce(found).resolvesOnce(found).resolvesOnce(found)
      .resolves(store(['CONNECTED', 'CONNECTING'].includes(state as string) ? state as string : 'DISCONNECTED'));
    await handler(event('Update'));
    expect(kms.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(disconnects as number);
    expect(kms.commandCalls(UpdateCustomKeyStoreCommand)).toHaveLength(passwords as number);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(passwords as number);
    expect(kms.commandCalls(ConnectCustomKeyStoreCommand)).toHaveLength(connects as number);
  });

  test('connecting a store that is already connecting is no error', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('DISCONNECTED'));
    kms.on(ConnectCustomKeyStoreCommand).rejects(awsError('CustomKeyStoreInvalidStateException'));
    await expect(handler(event('Update'))).resolves.toMatchObject({ PhysicalResourceId: ID });
  });
});

describe('delete', () => {
  /** The account's keys, by store; `tagged` of them carry the library's store tag. */
  const keys = (storeIds: Array<string | undefined>, tagged: number[] = []) => {
    kms.on(ListKeysCommand).resolves({ Keys: storeIds.map((_, i) => ({ KeyId: `key-${i}` })), Truncated: false });
    kms.on(DescribeKeyCommand).callsFake(({ KeyId }) => ({ KeyMetadata: { KeyId, CustomKeyStoreId: storeIds[Number(KeyId.slice(4))] } }));
    tagging.on(GetResourcesCommand).resolves({ ResourceTagMappingList: tagged.map(i => ({ ResourceARN: `arn:aws:kms:us-east-1:111111111111:key/key-${i}` })) });
  };

  test('the library\'s keys in the store are found by its tag: with 5,000 keys in the account, a few calls, and the store is kept', async () => {
    keys(Array.from({ length: 5000 }, (_, i) => (i % 10 === 0 ? ID : undefined)), [0, 10, 20]);
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED'));
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: ID });
    expect(tagging.commandCalls(GetResourcesCommand)[0].args[0].input).toMatchObject({
      ResourceTypeFilters: ['kms:key'], TagFilters: [{ Key: 'cdk-kms-constructs:custom-key-store', Values: [ID] }],
    });
    expect(kms.calls().length + tagging.calls().length).toBeLessThanOrEqual(5);
    expect(mutatingCalls()).toEqual([]);
    expect(console.log).toHaveBeenCalledWith(expect.stringContaining('is kept: it holds 3 key(s) of cdk-kms-constructs (key-0, key-10, key-20)'));
  });

  test('keys made outside the library are found by a look through the account, ten calls at a time, stopping at the first', async () => {
    keys(Array.from({ length: 5000 }, (_, i) => (i === 4321 ? ID : undefined)));
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED'));
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: ID });
    expect(mutatingCalls()).toEqual([]);
    expect(console.log).toHaveBeenCalledWith(expect.stringContaining('it holds key(s) (key-4321)'));
  });

  test('a look through the account cut short by its time budget keeps the store', async () => {
    keys(Array.from({ length: 50 }, () => undefined));
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED'));
    const spy = jest.spyOn(Date, 'now');
    let now = 0;
    spy.mockImplementation(() => (now += 5_000));
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: ID });
    spy.mockRestore();
    expect(mutatingCalls()).toEqual([]);
    expect(console.log).toHaveBeenCalledWith(expect.stringContaining('more keys than the handler could look through in 90 s'));
  });

  test('an empty store is disconnected and deleted', async () => {
    keys([undefined, 'cks-other000000000000']);
    kms.on(DescribeCustomKeyStoresCommand).resolvesOnce(store('CONNECTED')).resolvesOnce(store('CONNECTED')).resolves(store('DISCONNECTED'));
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: ID });
    expect(kms.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(1);
    expect(kms.commandCalls(DeleteCustomKeyStoreCommand)[0].args[0].input).toEqual({ CustomKeyStoreId: ID });
  });

  test('a store that holds keys is kept connected and reported, and the stack deletion goes on', async () => {
    keys([ID, undefined], [0]);
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED'));
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: ID });
    expect(kms.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(0);
    expect(kms.commandCalls(DeleteCustomKeyStoreCommand)).toHaveLength(0);
    expect(console.log).toHaveBeenCalledWith(expect.stringContaining(`Custom key store ${ID} (payments-hsm) is kept: it holds 1 key(s) of cdk-kms-constructs (key-0)`));
  });

  test('keys the account may not describe might be in the store: it is kept, not even disconnected', async () => {
    kms.on(ListKeysCommand).resolves({ Keys: [{ KeyId: 'locked' }], Truncated: false });
    kms.on(DescribeKeyCommand, { KeyId: 'locked' }).rejects(awsError('AccessDeniedException'));
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED'));
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: ID });
    expect(kms.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(0);
    expect(console.log).toHaveBeenCalledWith(expect.stringContaining('a key of the account does not let it be described, and may be in the store'));
  });

  test('a key made while deleting keeps the store, reconnected', async () => {
    keys([]);
    kms.on(DescribeCustomKeyStoresCommand).resolvesOnce(store('CONNECTED')).resolvesOnce(store('CONNECTED')).resolves(store('DISCONNECTED'));
    kms.on(DeleteCustomKeyStoreCommand).rejects(awsError('CustomKeyStoreHasCMKsException'));
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: ID });
    expect(kms.commandCalls(ConnectCustomKeyStoreCommand)).toHaveLength(1);
  });

  test('a store already gone, or never made, is done', async () => {
    kms.on(DescribeCustomKeyStoresCommand).rejects(notFound());
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: ID });
    await expect(handler(event('Delete', { PhysicalResourceId: 'Store-request' }))).resolves.toEqual({ PhysicalResourceId: 'Store-request' });
    expect(kms.commandCalls(DeleteCustomKeyStoreCommand)).toHaveLength(0);
  });

  test('another error fails the deletion with what to do', async () => {
    keys([]);
    kms.on(DescribeCustomKeyStoresCommand).resolvesOnce(store('CONNECTED')).resolvesOnce(store('CONNECTED')).resolves(store('DISCONNECTED'));
    kms.on(DeleteCustomKeyStoreCommand).rejects(awsError('KMSInternalException'));
    await expect(handler(event('Delete'))).rejects.toThrow(`Cannot delete custom key store ${ID}: KMS failed internally; this is transient, retry the deployment`);
  });
});

describe('the wait for the connection (isComplete)', () => {
  const waitEvent = (type: 'Create' | 'Update' | 'Delete' = 'Create') => ({ ...event(type), PhysicalResourceId: ID });

  test('done when CONNECTED', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED'));
    await expect(waitForConnection(waitEvent())).resolves.toEqual({ IsComplete: true, Data: { CustomKeyStoreId: ID } });
  });

  test.each(['CONNECTING', 'DISCONNECTING'])('waits while %s', async state => {
    kms.on(DescribeCustomKeyStoresCommand).resolves(store(state));
    await expect(waitForConnection(waitEvent('Update'))).resolves.toEqual({ IsComplete: false });
    expect(kms.commandCalls(ConnectCustomKeyStoreCommand)).toHaveLength(0);
  });

  test('asks again to connect a store still DISCONNECTED', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('DISCONNECTED'));
    await expect(waitForConnection(waitEvent())).resolves.toEqual({ IsComplete: false });
    expect(kms.commandCalls(ConnectCustomKeyStoreCommand)).toHaveLength(1);
  });

  test.each(['INVALID_CREDENTIALS', 'USER_LOCKED_OUT'])('FAILED with %s gives the exact recovery: reset kmsuser to the secret\'s value, then a new kmsUserPasswordVersion', async code => {
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('FAILED', { ConnectionErrorCode: code as CustomKeyStoresListEntry['ConnectionErrorCode'] }));
    const error = await failure(waitForConnection(waitEvent()));
    expect(error.message).toContain('log in as an admin and set kmsuser\'s password to the value of the kmsUserPassword secret (user change-password --username kmsuser --role crypto-user)');
    expect(error.message).toContain('(2) deploy with a new kmsUserPasswordVersion: the deployment then gives KMS the secret\'s password and reconnects the store');
  });

  test.each(Object.entries(CONNECTION_ERRORS))('FAILED with %s ends the deployment with the missing step', async (code, remedy) => {
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('FAILED', { ConnectionErrorCode: code as CustomKeyStoresListEntry['ConnectionErrorCode'] }));
    await expect(waitForConnection(waitEvent())).rejects.toThrow(
      `Custom key store ${ID} (payments-hsm) failed to connect to cluster cluster-1a23b4cdefg (${code}): ${remedy}`,
    );
  });

  test('every ConnectionErrorCode of the SDK but the external key stores\' has its instruction', () => {
    const cloudHsmCodes = Object.values(ConnectionErrorCodeType).filter(code => !code.startsWith('XKS_')).sort();
    expect(Object.keys(CONNECTION_ERRORS).sort()).toEqual(cloudHsmCodes);
    expect(CONNECTION_ERRORS.USER_NOT_FOUND).toContain('create it on the cluster');
    expect(CONNECTION_ERRORS.INSUFFICIENT_CLOUDHSM_HSMS).toContain('two at least, in different Availability Zones');
  });

  test('a store deleted meanwhile is an error; a deletion needs no wait', async () => {
    kms.on(DescribeCustomKeyStoresCommand).rejects(notFound());
    await expect(waitForConnection(waitEvent())).rejects.toThrow(`Custom key store ${ID} no longer exists`);
    await expect(waitForConnection(waitEvent('Delete'))).resolves.toEqual({ IsComplete: true });
  });
});
