/**
 * The handlers of CustomKeyStore against mocked KMS and Secrets Manager clients:
 * create, update and delete (onEvent), the wait for the connection (isComplete) in
 * each state, every ConnectionErrorCode of a CloudHSM key store, and the errors the
 * calls document.
 * @see https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateCustomKeyStore.html#API_CreateCustomKeyStore_Errors
 */
process.env.KEY_STORE_POLL_MS = '0';
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
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as waitForConnection } from '../src/custom-key-store-connection.lambda';
import { handler } from '../src/custom-key-store.lambda';
import { awsError, customResourceEvent, failure } from './support/handlers';
import { CONNECTION_ERRORS } from '../src/private/key-store-errors';

const kms = mockClient(KMSClient);
const secrets = mockClient(SecretsManagerClient);
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

beforeEach(() => {
  kms.reset();
  secrets.reset();
  secrets.on(GetSecretValueCommand).resolves({ SecretString: 'correct-horse-1' });
  jest.spyOn(console, 'log').mockImplementation(() => {});
});

describe('create', () => {
  test('creates the store with the password from its secret, and starts connecting it', async () => {
    kms.on(DescribeCustomKeyStoresCommand, { CustomKeyStoreName: 'payments-hsm' }).rejects(notFound());
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
  });

  test('a JSON secret gives its password field', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'kmsuser', password: 'from-json-1' }) });
    kms.on(DescribeCustomKeyStoresCommand, { CustomKeyStoreName: 'payments-hsm' }).rejects(notFound());
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

  test('a store of the same name for another cluster, or another trust anchor, is refused', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED', { CloudHsmClusterId: 'cluster-zzzzzzzzzzz' }));
    await expect(handler(event('Create'))).rejects.toThrow(`A custom key store named payments-hsm already exists (${ID}) for cluster cluster-zzzzzzzzzzz, not cluster-1a23b4cdefg: choose another customKeyStoreName`);
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED', { TrustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nOTHER\n-----END CERTIFICATE-----' }));
    await expect(handler(event('Create'))).rejects.toThrow(`already exists (${ID}) for cluster cluster-1a23b4cdefg with another trust anchor: choose another customKeyStoreName`);
  });

  test('a retried create that finds its store FAILED gives it the secret\'s password and reconnects it', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolvesOnce(store('FAILED')).resolvesOnce(store('FAILED')).resolvesOnce(store('FAILED')).resolves(store('DISCONNECTED'));
    await handler(event('Create'));
    expect(kms.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(1);
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
    kms.on(DescribeCustomKeyStoresCommand).rejects(notFound());
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
    kms.on(DescribeCustomKeyStoresCommand).rejects(notFound());
    secrets.on(GetSecretValueCommand).rejects(awsError(name));
    const error = await failure(handler(event('Create')));
    expect(error.message).toMatch(new RegExp(`^Cannot read the kmsuser password from ${SECRET}: `));
    expect(error.message).toContain(remedy);
    expect(kms.commandCalls(CreateCustomKeyStoreCommand)).toHaveLength(0);
  });

  test.each([['short', 'abc'], ['long', 'x'.repeat(33)]])('a %s password is refused without showing it', async (_name, password) => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: password });
    kms.on(DescribeCustomKeyStoresCommand).rejects(notFound());
    const error = await failure(handler(event('Create')));
    expect(error.message).toBe(`The kmsuser password in ${SECRET} must be 7 to 32 characters, as KMS requires; it has ${password.length}`);
    expect(error.message).not.toContain(password);
  });

  test('a binary secret is refused', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1]) });
    kms.on(DescribeCustomKeyStoresCommand).rejects(notFound());
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
      .resolvesOnce(store('FAILED')).resolvesOnce(store('DISCONNECTING')).resolves(store('DISCONNECTED'));
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'reset-password-2' });
    await handler(event('Update', { ResourceProperties: { ...PROPS, PasswordVersion: '2' } }));
    expect(kms.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(1);
    expect(kms.commandCalls(UpdateCustomKeyStoreCommand)[0].args[0].input).toEqual({ CustomKeyStoreId: ID, KeyStorePassword: 'reset-password-2' });
    expect(kms.commandCalls(ConnectCustomKeyStoreCommand)).toHaveLength(1);
  });

  test('a related cluster disconnects, moves the store and reconnects', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolvesOnce(store('CONNECTED')).resolves(store('DISCONNECTED'));
    await handler(event('Update', { ResourceProperties: { ...PROPS, CloudHsmClusterId: 'cluster-9z99z9zzzzz' } }));
    expect(kms.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(1);
    expect(kms.commandCalls(UpdateCustomKeyStoreCommand)[0].args[0].input).toEqual({
      CustomKeyStoreId: ID, CloudHsmClusterId: 'cluster-9z99z9zzzzz', KeyStorePassword: 'correct-horse-1',
    });
    expect(kms.commandCalls(ConnectCustomKeyStoreCommand)).toHaveLength(1);
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
      .rejects.toThrow(`Custom key store ${ID} is still CONNECTED after 180 s of disconnecting; retry the deployment`);
    spy.mockRestore();
  });

  test('a new trust anchor is refused: KMS cannot change it', async () => {
    await expect(handler(event('Update', { ResourceProperties: { ...PROPS, TrustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nOTHER\n-----END CERTIFICATE-----' } })))
      .rejects.toThrow(`trustAnchorCertificate of custom key store ${ID} cannot change: KMS has no call to change it`);
    expect(kms.calls()).toHaveLength(0);
  });

  test.each([
    ['DISCONNECTED', 0, 1],
    ['FAILED', 1, 1],
    ['CONNECTED', 0, 0],
    ['CONNECTING', 0, 0],
  ])('with nothing changed, a %s store is (re)connected as needed', async (state, disconnects, connects) => {
    kms.on(DescribeCustomKeyStoresCommand).resolvesOnce(store(state as string)).resolvesOnce(store(state as string))
      .resolves(store(['CONNECTED', 'CONNECTING'].includes(state as string) ? state as string : 'DISCONNECTED'));
    await handler(event('Update'));
    expect(kms.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(disconnects as number);
    expect(kms.commandCalls(UpdateCustomKeyStoreCommand)).toHaveLength(connects as number);
    expect(kms.commandCalls(ConnectCustomKeyStoreCommand)).toHaveLength(connects as number);
  });

  test('connecting a store that is already connecting is no error', async () => {
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('DISCONNECTED'));
    kms.on(ConnectCustomKeyStoreCommand).rejects(awsError('CustomKeyStoreInvalidStateException'));
    await expect(handler(event('Update'))).resolves.toMatchObject({ PhysicalResourceId: ID });
  });
});

describe('delete', () => {
  const keys = (storeIds: Array<string | undefined>) => {
    kms.on(ListKeysCommand).resolves({ Keys: storeIds.map((_, i) => ({ KeyId: `key-${i}` })), Truncated: false });
    storeIds.forEach((storeId, i) => kms.on(DescribeKeyCommand, { KeyId: `key-${i}` }).resolves({ KeyMetadata: { KeyId: `key-${i}`, CustomKeyStoreId: storeId } }));
  };

  test('an empty store is disconnected and deleted', async () => {
    keys([undefined, 'cks-other000000000000']);
    kms.on(DescribeCustomKeyStoresCommand).resolvesOnce(store('CONNECTED')).resolvesOnce(store('CONNECTED')).resolves(store('DISCONNECTED'));
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: ID });
    expect(kms.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(1);
    expect(kms.commandCalls(DeleteCustomKeyStoreCommand)[0].args[0].input).toEqual({ CustomKeyStoreId: ID });
  });

  test('a store that holds keys is kept connected and reported, and the stack deletion goes on', async () => {
    keys([ID, undefined]);
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED'));
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: ID });
    expect(kms.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(0);
    expect(kms.commandCalls(DeleteCustomKeyStoreCommand)).toHaveLength(0);
    expect(console.log).toHaveBeenCalledWith(expect.stringContaining(`Custom key store ${ID} (payments-hsm) is kept: it holds 1 key(s) (key-0)`));
  });

  test('keys the account may not describe might be in the store: it is kept, not even disconnected', async () => {
    kms.on(ListKeysCommand).resolves({ Keys: [{ KeyId: 'locked' }], Truncated: false });
    kms.on(DescribeKeyCommand, { KeyId: 'locked' }).rejects(awsError('AccessDeniedException'));
    kms.on(DescribeCustomKeyStoresCommand).resolves(store('CONNECTED'));
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: ID });
    expect(kms.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(0);
    expect(console.log).toHaveBeenCalledWith(expect.stringContaining('1 key(s) of the account do not let it be described'));
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
