/**
 * Every custom-resource handler of the library refuses an event that is not
 * CloudFormation's for its own stack's resource, before it changes anything: anyone
 * allowed lambda:InvokeFunction on a handler could otherwise act with its rights.
 *
 * For each of the nine handlers and each request type, the mocked AWS clients are set
 * up so that the genuine event makes the handler's changes (shown first: the test could
 * fail), then forged variants of it are sent: another stack's, a logical ID the stack
 * does not have, another resource type, a resource CloudFormation is not working on, a
 * physical ID that is not the resource's, and for the CloudHSM handlers a cluster that
 * is not the stack's. Each is refused with a message that says nothing was changed,
 * and no call that changes anything is made.
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackResource.html
 */
import { createHash } from 'crypto';
import * as acmpca from '@aws-sdk/client-acm-pca';
import { DescribeStackEventsCommand, DescribeStackResourceCommand, DescribeStacksCommand, StackEvent } from '@aws-sdk/client-cloudformation';
import * as cloudhsm from '@aws-sdk/client-cloudhsm-v2';
import {
  CreateCustomKeyStoreCommand, CreateGrantCommand, CreateKeyCommand, DescribeCustomKeyStoresCommand, DescribeKeyCommand, KMSClient, ListGrantsCommand,
  ListKeysCommand, ListResourceTagsCommand, RevokeGrantCommand,
} from '@aws-sdk/client-kms';
import { GetResourcesCommand, ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AwsStub, mockClient } from 'aws-sdk-client-mock';
import { awsError, customResourceEvent, mockCloudFormation, STACK_ID, TestResource } from './support/handlers';
import { LOOKUP_RESOURCE, primaryKey, primaryStack } from './support/primary-key';
import { handler as keyGrant } from '../src/delegation/key-grant.lambda';
import { handler as hsmsReady } from '../src/key-store/cloudhsm-hsms-ready.lambda';
import { handler as hsms } from '../src/key-store/cloudhsm-hsms.lambda';
import { handler as initializationReady } from '../src/key-store/cloudhsm-initialization-ready.lambda';
import { handler as initialization } from '../src/key-store/cloudhsm-initialization.lambda';
import { handler as connection } from '../src/key-store/custom-key-store-connection.lambda';
import { handler as keyStore } from '../src/key-store/custom-key-store.lambda';
import { handler as hsmKey } from '../src/key-store/hsm-key.lambda';
import { handler as lookup } from '../src/multi-region/primary-key-lookup.lambda';

process.env.KEY_STORE_POLL_MS = '0';

type Mocked = AwsStub<any, any, any>;
const mock = (client: unknown): Mocked => mockClient(client as Parameters<typeof mockClient>[0]);
const cfn = mockCloudFormation();
const kms = mock(KMSClient);
const secrets = mock(SecretsManagerClient);
const hsm = mock(cloudhsm.CloudHSMV2Client);
const pca = mock(acmpca.ACMPCAClient);
const tagging = mock(ResourceGroupsTaggingAPIClient);
const command = (c: unknown) => c as never;

const CLUSTER = 'cluster-1a23b4cdefg';
const VICTIM_CLUSTER = 'cluster-v1ct1mzzzzz';
const STORE = 'cks-1234567890abcdef0';
const KEY = '1234abcd-12ab-34cd-56ef-1234567890ab';
const CA = 'arn:aws:acm-pca:us-east-1:111111111111:certificate-authority/11111111-2222-3333-4444-555555555555';
const ANCHOR = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
const marker = (logicalId: string) => createHash('sha256').update(`${STACK_ID}/${logicalId}`).digest('hex');

type Type = 'Create' | 'Update' | 'Delete';

/** The HSMs of the stack's cluster, which their onEvent and their wait are both sent. */
const HSMS: TestResource = {
  resourceType: 'Custom::CloudHsmHsms',
  logicalId: 'ClusterHsms',
  physicalId: `${CLUSTER}/hsms`,
  properties: { ServiceToken: 'x', ClusterId: CLUSTER, ClusterLogicalId: 'Cluster', HsmCount: '2', Activated: 'false' },
};

/** The initialization of the stack's cluster, which its onEvent and its wait are both sent. */
const INITIALIZATION: TestResource = {
  resourceType: 'Custom::CloudHsmClusterInitialization',
  logicalId: 'ClusterInitialization',
  physicalId: `${CLUSTER}/initialization`,
  properties: { ServiceToken: 'x', ClusterId: CLUSTER, ClusterLogicalId: 'Cluster', CertificateAuthorityArn: CA, ValidityDays: '3650' },
};

/** A handler under test: its resource, the events it is sent, and what the world looks like. */
interface Subject {
  readonly name: string;
  readonly handler: (event: any) => Promise<unknown>;
  readonly resource: TestResource;
  /** Whether the provider's wait (isComplete) gets it: it is sent onEvent's physical ID on Create too. */
  readonly wait?: boolean;
  /** The request types for which a genuine event changes something. */
  readonly changes: Type[];
  /** An Update's old properties, so that an Update has something to change. */
  readonly oldProperties?: Record<string, unknown>;
  /** Whether it acts on the stack's CloudHSM cluster. */
  readonly cluster?: boolean;
  /** The world a genuine event of each type makes the handler change. */
  readonly world: () => void;
}

const SUBJECTS: Subject[] = [
  {
    name: 'custom key store (onEvent)',
    handler: keyStore,
    resource: {
      resourceType: 'Custom::KmsCustomKeyStore',
      logicalId: 'Store',
      physicalId: STORE,
      properties: { ServiceToken: 'x', CustomKeyStoreName: 'payments-hsm', CloudHsmClusterId: CLUSTER, TrustAnchorCertificate: ANCHOR, PasswordSecretArn: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:p-AbCdEf' },
    },
    oldProperties: { CloudHsmClusterId: 'cluster-0ld00000000' },
    changes: ['Create', 'Update', 'Delete'],
    world: () => {
      kms.on(DescribeCustomKeyStoresCommand).callsFake(input => {
        if (input.CustomKeyStoreName) throw awsError('CustomKeyStoreNotFoundException');
        if (input.CustomKeyStoreId) {
          return { CustomKeyStores: [{ CustomKeyStoreId: STORE, CustomKeyStoreName: 'payments-hsm', CloudHsmClusterId: 'cluster-0ld00000000', TrustAnchorCertificate: ANCHOR, ConnectionState: 'DISCONNECTED' }] };
        }
        return { CustomKeyStores: [] };
      });
      kms.on(CreateCustomKeyStoreCommand).resolves({ CustomKeyStoreId: STORE });
      kms.on(ListKeysCommand).resolves({ Keys: [], Truncated: false });
      secrets.on(GetSecretValueCommand).resolves({ SecretString: 'correct-horse-1' });
      hsm.on(command(cloudhsm.ListTagsCommand)).resolves({ TagList: [] });
      tagging.on(GetResourcesCommand).resolves({ ResourceTagMappingList: [] });
    },
  },
  {
    name: 'custom key store connection (isComplete)',
    handler: connection,
    wait: true,
    resource: {
      resourceType: 'Custom::KmsCustomKeyStore',
      logicalId: 'Store',
      physicalId: STORE,
      properties: { ServiceToken: 'x', CustomKeyStoreName: 'payments-hsm', CloudHsmClusterId: CLUSTER, TrustAnchorCertificate: ANCHOR, PasswordSecretArn: 'p' },
    },
    changes: ['Create', 'Update'],
    world: () => {
      kms.on(DescribeCustomKeyStoresCommand).resolves({ CustomKeyStores: [{ CustomKeyStoreId: STORE, ConnectionState: 'DISCONNECTED' }] });
    },
  },
  {
    name: 'HSM key',
    handler: hsmKey,
    resource: {
      resourceType: 'Custom::KmsHsmKey',
      logicalId: 'PaymentsKey',
      physicalId: KEY,
      properties: { ServiceToken: 'x', CustomKeyStoreId: STORE, Description: 'd', KeyPolicy: { Version: '2012-10-17', Statement: [] }, PendingWindowInDays: '7' },
    },
    oldProperties: { KeyPolicy: { Version: '2012-10-17', Statement: [], Id: 'old' } },
    changes: ['Create', 'Update', 'Delete'],
    world: () => {
      tagging.on(GetResourcesCommand).resolves({ ResourceTagMappingList: [] });
      kms.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: KEY, Arn: `arn:aws:kms:us-east-1:111111111111:key/${KEY}` } });
      kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: KEY, Arn: `arn:aws:kms:us-east-1:111111111111:key/${KEY}` } });
      kms.on(ListResourceTagsCommand).resolves({ Tags: [{ TagKey: 'cdk-kms-constructs:resource', TagValue: marker('PaymentsKey') }] });
    },
  },
  {
    name: 'KeyGrant',
    handler: keyGrant,
    resource: {
      resourceType: 'Custom::KmsKeyGrant',
      logicalId: 'AuditGrant',
      physicalId: `arn:aws:kms:us-east-1:111111111111:key/${KEY}|${'a'.repeat(64)}`,
      properties: { ServiceToken: 'x', KeyId: `arn:aws:kms:us-east-1:111111111111:key/${KEY}`, GranteePrincipal: 'arn:aws:iam::111111111111:role/Analyst', Operations: ['Decrypt'] },
    },
    oldProperties: { Operations: ['Decrypt', 'DescribeKey'] },
    changes: ['Create', 'Update', 'Delete'],
    world: () => {
      kms.on(CreateGrantCommand).resolves({ GrantId: 'b'.repeat(64), GrantToken: 't' });
      kms.on(ListGrantsCommand).resolves({ Grants: [{ GrantId: 'a'.repeat(64), Name: `cdk-kms-constructs-${marker('AuditGrant').slice(0, 16)}-${'0'.repeat(12)}` }] });
      kms.on(RevokeGrantCommand).resolves({});
    },
  },
  {
    name: 'CloudHSM HSMs (onEvent)',
    handler: hsms,
    cluster: true,
    resource: HSMS,
    changes: [],
    world: () => {
      hsm.on(command(cloudhsm.DescribeClustersCommand)).resolves({ Clusters: [{ ClusterId: CLUSTER, State: 'UNINITIALIZED', Hsms: [] }] });
    },
  },
  {
    name: 'CloudHSM HSMs (isComplete)',
    handler: hsmsReady,
    wait: true,
    cluster: true,
    resource: HSMS,
    changes: ['Create', 'Update', 'Delete'],
    world: () => {
      hsm.on(command(cloudhsm.DescribeClustersCommand)).callsFake(input => {
        const id = input.Filters.clusterIds[0];
        return {
          Clusters: [{
            ClusterId: id,
            State: 'UNINITIALIZED',
            SubnetMapping: { 'us-east-1a': 'subnet-0' },
            // No HSM for a Create or Update to make; one ACTIVE HSM for a Delete to delete.
            Hsms: lastType === 'Delete' ? [{ HsmId: `hsm-of-${id}`, ClusterId: id, AvailabilityZone: 'us-east-1a', State: 'ACTIVE' }] : [],
            // CloudHsmCluster tags the clusters it makes with their stack; the victim is another's.
            TagList: id === VICTIM_CLUSTER ? [] : [{ Key: 'cdk-kms-constructs:stack-id', Value: STACK_ID }],
          }],
        };
      });
    },
  },
  {
    name: 'CloudHSM initialization (onEvent)',
    handler: initialization,
    cluster: true,
    resource: INITIALIZATION,
    changes: ['Create', 'Update'],
    world: () => {
      hsm.on(command(cloudhsm.DescribeClustersCommand)).resolves({ Clusters: [{ ClusterId: CLUSTER, State: 'UNINITIALIZED', Certificates: { ClusterCsr: 'csr' } }] });
      pca.on(command(acmpca.DescribeCertificateAuthorityCommand)).resolves({
        CertificateAuthority: { Arn: CA, Type: 'ROOT', Status: 'ACTIVE', CertificateAuthorityConfiguration: { SigningAlgorithm: 'SHA256WITHRSA' } },
      });
      pca.on(command(acmpca.IssueCertificateCommand)).resolves({ CertificateArn: `${CA}/certificate/abc` });
    },
  },
  {
    name: 'CloudHSM initialization (isComplete)',
    handler: initializationReady,
    wait: true,
    cluster: true,
    resource: INITIALIZATION,
    changes: ['Create', 'Update'],
    world: () => {
      hsm.on(command(cloudhsm.DescribeClustersCommand)).resolves({ Clusters: [{ ClusterId: CLUSTER, State: 'UNINITIALIZED' }] });
      pca.on(command(acmpca.GetCertificateAuthorityCertificateCommand)).resolves({ Certificate: ANCHOR });
      pca.on(command(acmpca.GetCertificateCommand)).resolves({ Certificate: ANCHOR });
    },
  },
  {
    name: 'primary key lookup',
    handler: lookup,
    resource: LOOKUP_RESOURCE,
    changes: [],
    world: () => {
      cfn.on(DescribeStacksCommand, { StackName: 'Orders-us-east-1' }).resolves(primaryStack());
      kms.on(DescribeKeyCommand).resolves({ KeyMetadata: primaryKey() });
    },
  },
];

/** How CloudFormation's record of the stack is forged. */
interface Forgery {
  readonly name: string;
  /** The request types it applies to (all by default). */
  readonly types?: (subject: Subject) => Type[];
  readonly event?: (event: any) => any;
  readonly record?: (record: Record<string, unknown>, type: Type) => Record<string, unknown> | 'none';
  readonly stackStatus?: string;
  readonly stackCluster?: string;
  /** The stack's events, newest first. @default none */
  readonly stackEvents?: StackEvent[];
}

const FORGERIES: Forgery[] = [
  { name: 'names another stack', event: event => ({ ...event, StackId: 'arn:aws:cloudformation:us-east-1:111111111111:stack/Attacker/guid' }) },
  { name: 'names a resource the stack does not have', record: () => 'none' },
  { name: 'names a resource of another type', record: record => ({ ...record, ResourceType: 'AWS::KMS::Key' }) },
  {
    name: 'comes when CloudFormation is not working on the resource',
    record: (record, type) => ({ ...record, ResourceStatus: type === 'Create' ? 'CREATE_COMPLETE' : 'UPDATE_COMPLETE' }),
    stackStatus: 'UPDATE_COMPLETE',
  },
  {
    name: 'names a physical ID that is not the resource\'s',
    types: subject => (subject.wait ? ['Delete'] : ['Update', 'Delete']),
    record: record => ({ ...record, PhysicalResourceId: `${record.PhysicalResourceId}-real` }),
    stackStatus: 'UPDATE_IN_PROGRESS',
  },
  {
    name: 'points the handler at a cluster that is not the stack\'s',
    types: subject => (subject.cluster ? ['Create', 'Update'] : []),
    stackCluster: VICTIM_CLUSTER,
  },
];

const IN_PROGRESS = { Create: 'CREATE_IN_PROGRESS', Update: 'UPDATE_IN_PROGRESS', Delete: 'DELETE_IN_PROGRESS' };
let lastType: Type = 'Create';

/** The event CloudFormation would send the subject, and its record of the stack, forged as asked. */
function send(subject: Subject, type: Type, forgery?: Forgery): Promise<unknown> {
  lastType = type;
  let event: any = customResourceEvent(subject.resource, type, type === 'Update' && subject.oldProperties
    ? { OldResourceProperties: { ...subject.resource.properties, ...subject.oldProperties } } : {});
  if (subject.wait && type !== 'Delete') {
    event = { ...event, PhysicalResourceId: subject.resource.physicalId, Data: { CertificateArn: `${CA}/certificate/abc` } };
  }
  if (forgery?.event) event = forgery.event(event);
  const genuine = {
    LogicalResourceId: event.LogicalResourceId,
    ResourceType: subject.resource.resourceType,
    ResourceStatus: IN_PROGRESS[type],
    PhysicalResourceId: type === 'Create' ? undefined : subject.resource.physicalId,
  };
  const record = forgery?.record ? forgery.record(genuine, type) : genuine;
  cfn.on(DescribeStackResourceCommand).callsFake(input => {
    if (input.LogicalResourceId === 'Cluster') {
      return { StackResourceDetail: { LogicalResourceId: 'Cluster', ResourceType: 'AWS::CloudHSM::Cluster', ResourceStatus: 'CREATE_COMPLETE', PhysicalResourceId: forgery?.stackCluster ?? CLUSTER } };
    }
    if (record === 'none' || input.StackName !== STACK_ID || input.LogicalResourceId !== event.LogicalResourceId) {
      throw awsError('ValidationError', `Resource ${input.LogicalResourceId} does not exist for stack ${input.StackName}`);
    }
    return { StackResourceDetail: record };
  });
  cfn.on(DescribeStackEventsCommand).resolves({ StackEvents: forgery?.stackEvents ?? [] });
  cfn.on(DescribeStacksCommand, { StackName: STACK_ID }).resolves({
    Stacks: [{ StackId: STACK_ID, StackName: 'Test', StackStatus: (forgery?.stackStatus ?? IN_PROGRESS[type]) as never, CreationTime: new Date() }],
  });
  return subject.handler(event);
}

/** The calls made that change something: anything but Describe*, List* and Get*. */
function changes(): string[] {
  return [kms, secrets, hsm, pca, tagging, cfn]
    .flatMap(client => client.calls())
    .map(call => (call.args[0] as object).constructor.name)
    .filter(name => !/^(Describe|List|Get)/.test(name));
}

beforeEach(() => {
  for (const client of [cfn, kms, secrets, hsm, pca, tagging]) client.reset();
  jest.spyOn(console, 'log').mockImplementation(() => {});
});

describe.each(SUBJECTS)('the $name handler', subject => {
  const types: Type[] = ['Create', 'Update', 'Delete'];

  test.each(types)('a genuine %s event is acted on (the forgeries below would be too, unchecked)', async type => {
    subject.world();
    await send(subject, type);
    if (subject.changes.includes(type)) expect(changes().length).toBeGreaterThan(0);
    else expect(changes()).toEqual([]);
  });

  const cases = FORGERIES.flatMap(forgery => (forgery.types?.(subject) ?? types).map(type => [type, forgery.name, forgery] as const));
  test.each(cases)('a forged %s event that %s is refused, and nothing is changed', async (type, _name, forgery) => {
    subject.world();
    await expect(send(subject, type, forgery)).rejects.toThrow(/^Refused a (Create|Update|Delete) event for .*changed nothing$/s);
    expect(changes()).toEqual([]);
  });
});

describe('a Delete of an earlier physical ID, after a replacement', () => {
  const subject = SUBJECTS.find(s => s.name === 'CloudHSM HSMs (isComplete)')!;
  /** The stack's events, newest first: CloudFormation deleting these physical IDs of ClusterHsms, after the cleanup began. */
  const cleanup = (...deleting: string[]): StackEvent[] => [
    ...deleting.map(physicalId => ({
      StackId: STACK_ID,
      StackName: 'Test',
      EventId: physicalId,
      Timestamp: new Date(),
      LogicalResourceId: 'ClusterHsms',
      PhysicalResourceId: physicalId,
      ResourceStatus: 'DELETE_IN_PROGRESS' as const,
    })),
    { StackId: STACK_ID, StackName: 'Test', EventId: 'stack', Timestamp: new Date(), LogicalResourceId: 'Test', PhysicalResourceId: STACK_ID, ResourceStatus: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS' as never },
    // An older deletion, of an earlier operation: not this cleanup's.
    { StackId: STACK_ID, StackName: 'Test', EventId: 'old', Timestamp: new Date(), LogicalResourceId: 'ClusterHsms', PhysicalResourceId: `${VICTIM_CLUSTER}/hsms`, ResourceStatus: 'DELETE_IN_PROGRESS' as const },
  ];

  test('is taken while CloudFormation cleans up after the update, as its events show, and deletes only the HSMs of the cluster its physical ID names', async () => {
    subject.world();
    await send(subject, 'Delete', {
      name: 'cleanup',
      record: record => ({ ...record, ResourceStatus: 'UPDATE_COMPLETE', PhysicalResourceId: 'cluster-n3wn3wn3wn3/hsms' }),
      stackStatus: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
      stackEvents: cleanup(`${CLUSTER}/hsms`),
    });
    expect(hsm.commandCalls(command(cloudhsm.DeleteHsmCommand)).map(call => (call.args[0] as any).input))
      .toEqual([{ ClusterId: CLUSTER, HsmId: `hsm-of-${CLUSTER}` }]);
  });

  test('a forged Delete during a cleanup, naming a physical ID CloudFormation is not deleting now, is refused', async () => {
    subject.world();
    // Another cluster of the stack (or one kept after an earlier replacement): tagged with the stack, but not being deleted.
    const other = { ...subject, resource: { ...subject.resource, physicalId: `${VICTIM_CLUSTER}/hsms` } };
    await expect(send(other, 'Delete', {
      name: 'cleanup',
      record: record => ({ ...record, ResourceStatus: 'UPDATE_COMPLETE', PhysicalResourceId: 'cluster-n3wn3wn3wn3/hsms' }),
      stackStatus: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
      stackEvents: cleanup(`${CLUSTER}/hsms`),
    })).rejects.toThrow(`its events show no deletion of ${VICTIM_CLUSTER}/hsms for ClusterHsms`);
    expect(changes()).toEqual([]);
  });

  test('a cluster being emptied after a replacement must also carry the stack\'s tag: one without is refused, and no HSM is deleted', async () => {
    subject.world();
    const victim = { ...subject, resource: { ...subject.resource, physicalId: `${VICTIM_CLUSTER}/hsms` } };
    await expect(send(victim, 'Delete', {
      name: 'cleanup',
      record: record => ({ ...record, ResourceStatus: 'UPDATE_COMPLETE', PhysicalResourceId: `${CLUSTER}/hsms` }),
      stackStatus: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
      stackEvents: cleanup(`${VICTIM_CLUSTER}/hsms`),
    })).rejects.toThrow(`CloudHSM cluster ${VICTIM_CLUSTER} has no cdk-kms-constructs:stack-id tag, so it is not this stack's. The HSMs handler changed nothing`);
    expect(changes()).toEqual([]);
  });

  test('a custom key store keeps its ID for life: a Delete of another one, even during a cleanup, is refused', async () => {
    const store = SUBJECTS[0];
    store.world();
    await expect(send(store, 'Delete', {
      name: 'cleanup',
      record: record => ({ ...record, ResourceStatus: 'UPDATE_COMPLETE', PhysicalResourceId: 'cks-0ther00000000000' }),
      stackStatus: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
      stackEvents: [{ StackId: STACK_ID, StackName: 'Test', EventId: 'e', Timestamp: new Date(), LogicalResourceId: 'Store', PhysicalResourceId: STORE, ResourceStatus: 'DELETE_IN_PROGRESS' }],
    })).rejects.toThrow('a custom key store keeps its ID for life');
    expect(changes()).toEqual([]);
  });

  test('a rollback\'s Update, reported with a ROLLBACK resource state, is taken', async () => {
    const store = SUBJECTS[0];
    store.world();
    await send(store, 'Update', {
      name: 'rollback',
      record: record => ({ ...record, ResourceStatus: 'UPDATE_ROLLBACK_IN_PROGRESS' }),
      stackStatus: 'UPDATE_ROLLBACK_IN_PROGRESS',
    });
    expect(changes().length).toBeGreaterThan(0);
  });

  test('the store\'s wait takes an Update only for the store ID CloudFormation records: a store keeps its ID', async () => {
    const wait = SUBJECTS[1];
    wait.world();
    await expect(send({ ...wait, resource: { ...wait.resource, physicalId: 'cks-0ther00000000000' } }, 'Update', {
      name: 'another store',
      record: record => ({ ...record, PhysicalResourceId: STORE }),
    })).rejects.toThrow(`its physical ID in the stack is ${STORE}`);
    expect(changes()).toEqual([]);
  });

  test('a forged Delete naming another cluster in its properties still deletes only the physical ID\'s cluster\'s HSMs', async () => {
    subject.world();
    const forged = { ...subject, resource: { ...subject.resource, properties: { ...subject.resource.properties, ClusterId: VICTIM_CLUSTER } } };
    await send(forged, 'Delete');
    const deleted = hsm.commandCalls(command(cloudhsm.DeleteHsmCommand)).map(call => (call.args[0] as any).input.ClusterId);
    expect(deleted).not.toContain(VICTIM_CLUSTER);
  });
});

describe('the check itself', () => {
  const subject = SUBJECTS[0];

  test('a handler deployed without its stack\'s ID refuses to act', async () => {
    const saved = process.env.STACK_ID;
    delete process.env.STACK_ID;
    try {
      await expect(send(subject, 'Create')).rejects.toThrow('has no STACK_ID variable, so it cannot tell its stack\'s events from others');
    } finally {
      process.env.STACK_ID = saved;
    }
    expect(changes()).toEqual([]);
  });

  test('CloudFormation throttling the check is tried again, then fails with what to do', async () => {
    subject.world();
    const throttled = awsError('Throttling', 'Rate exceeded');
    cfn.on(DescribeStackResourceCommand).rejects(throttled);
    lastType = 'Create';
    const event = customResourceEvent(subject.resource, 'Create');
    await expect(subject.handler(event)).rejects.toThrow('Cannot check the event with CloudFormation (DescribeStackResource Store): CloudFormation throttled the call');
    expect(cfn.commandCalls(DescribeStackResourceCommand)).toHaveLength(4);
    expect(changes()).toEqual([]);
  });

  test('a role that may not describe its stack fails with what to do, not as a forgery', async () => {
    cfn.on(DescribeStackResourceCommand).rejects(awsError('AccessDenied'));
    const event = customResourceEvent(subject.resource, 'Create');
    await expect(subject.handler(event)).rejects.toThrow('the handler\'s role may not describe its stack');
  });
});
