/**
 * The handlers of a CloudHsmCluster's HSMs against a mocked CloudHSM client: the
 * checks of onEvent (the cluster exists, is not being deleted, and was activated when
 * the stack says so), each step of the wait (isComplete) that creates and deletes
 * HSMs one poll at a time, spread over the cluster's Availability Zones, and never
 * twice on a retried poll; the deletion of every HSM; the errors DescribeClusters,
 * CreateHsm and DeleteHsm document as what to do; and, for any placement, that the
 * HSMs added or removed keep the zones as even as they were.
 * @see https://docs.aws.amazon.com/cloudhsm/latest/APIReference/API_DescribeClusters.html
 * @see https://docs.aws.amazon.com/cloudhsm/latest/APIReference/API_CreateHsm.html#API_CreateHsm_Errors
 * @see https://docs.aws.amazon.com/cloudhsm/latest/APIReference/API_DeleteHsm.html#API_DeleteHsm_Errors
 * @see https://docs.aws.amazon.com/cloudhsm/latest/APIReference/CommonErrors.html
 * @see https://docs.aws.amazon.com/cloudhsm/latest/userguide/add-hsm.html
 * @see https://docs.aws.amazon.com/cloudhsm/latest/userguide/activate-cluster.html
 */
import * as cloudhsm from '@aws-sdk/client-cloudhsm-v2';
import { CloudHSMV2Client, Cluster, Hsm } from '@aws-sdk/client-cloudhsm-v2';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { AwsCommand, mockClient } from 'aws-sdk-client-mock';
import * as fc from 'fast-check';
import { awsError, customResourceEvent, failure, mockCloudFormation, STACK_CLUSTER, stackRecord } from './support/handlers';
import { handler as waitForHsms } from '../src/key-store/cloudhsm-hsms-ready.lambda';
import { handler } from '../src/key-store/cloudhsm-hsms.lambda';

const stack = mockCloudFormation();
import {
  clusterZones, explainCloudHsm, hsmsToRemove, isActivated, liveHsms, readHsmsProperties, targetHsms, zonesForNewHsms,
} from '../src/key-store/cloudhsm-api';

/*
 * @aws-sdk/client-cloudhsm-v2 3.332.0 is typed with @aws-sdk/types, aws-sdk-client-mock 4
 * with @smithy/types, whose Client and Command no longer match. The client and the
 * commands are the very same objects (the mock matches commands by class), only cast to
 * the mock's types; their inputs and outputs keep CloudHSM's types.
 */
type Mockable<I, O> = new (input: I) => AwsCommand<I, O>;
const client = mockClient(CloudHSMV2Client as unknown as Parameters<typeof mockClient>[0]);
const DescribeClustersCommand = cloudhsm.DescribeClustersCommand as unknown as Mockable<
  cloudhsm.DescribeClustersCommandInput, cloudhsm.DescribeClustersCommandOutput
>;
const CreateHsmCommand = cloudhsm.CreateHsmCommand as unknown as Mockable<cloudhsm.CreateHsmCommandInput, cloudhsm.CreateHsmCommandOutput>;
const DeleteHsmCommand = cloudhsm.DeleteHsmCommand as unknown as Mockable<cloudhsm.DeleteHsmCommandInput, cloudhsm.DeleteHsmCommandOutput>;
const CLUSTER_ID = 'cluster-1a23b4cdefg';
const PHYSICAL_ID = `${CLUSTER_ID}/hsms`;
const PROPS = {
  ServiceToken: 'arn:aws:lambda:us-east-1:111111111111:function:framework',
  ClusterId: CLUSTER_ID,
  ClusterLogicalId: 'Cluster',
  HsmCount: '2',
  Activated: 'false',
};
/** Two zones, given out of name order as SubnetMapping may be. */
const TWO_ZONES = ['us-east-1b', 'us-east-1a'];
const THREE_ZONES = ['us-east-1c', 'us-east-1a', 'us-east-1b'];

const RESOURCE = { resourceType: 'Custom::CloudHsmHsms', logicalId: 'ClusterHsms', properties: PROPS, physicalId: PHYSICAL_ID };

function event(
  type: 'Create' | 'Update' | 'Delete', props: Record<string, unknown> = {}, extra: Record<string, unknown> = {},
): CloudFormationCustomResourceEvent {
  return customResourceEvent(RESOURCE, type, { ResourceProperties: { ...PROPS, ...props }, ...extra });
}

function hsm(id: string, zone: string, state = 'ACTIVE'): Hsm {
  return { HsmId: id, AvailabilityZone: zone, ClusterId: CLUSTER_ID, State: state };
}

function cluster(state: string, hsms: Hsm[] = [], zones: string[] = TWO_ZONES, id = CLUSTER_ID): Cluster {
  return {
    ClusterId: id,
    State: state,
    HsmType: 'hsm1.medium',
    SubnetMapping: Object.fromEntries(zones.map((zone, i) => [zone, `subnet-0000000${i}`])),
    Hsms: hsms,
  };
}

/** DescribeClusters answers with this cluster (or none). */
function describes(found: Cluster | undefined): void {
  client.on(DescribeClustersCommand).resolves({ Clusters: found ? [found] : [] });
}

const created = () => client.commandCalls(CreateHsmCommand).map(call => call.args[0].input);
const deleted = () => client.commandCalls(DeleteHsmCommand).map(call => call.args[0].input);
const createdZones = () => created().map(input => input.AvailabilityZone);

/** HSMs per zone, every zone counted (0 when it has none). */
function perZone(zones: string[], placed: Array<string | undefined>): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(zones.map(zone => [zone, 0]));
  for (const zone of placed) counts[zone!] += 1;
  return counts;
}

function spread(counts: Record<string, number> | number[]): number {
  const values = Array.isArray(counts) ? counts : Object.values(counts);
  return Math.max(...values) - Math.min(...values);
}

beforeEach(() => {
  stack.reset();
  stackRecord(stack, { resources: STACK_CLUSTER });
  client.reset();
});

describe('onEvent', () => {
  test.each(['Create', 'Update'] as const)('%s checks the cluster with DescribeClusters only, and names the resource after it', async type => {
    describes(cluster('UNINITIALIZED'));
    await expect(handler(event(type))).resolves.toEqual({ PhysicalResourceId: PHYSICAL_ID });
    expect(client.calls()).toHaveLength(1);
    expect(client.commandCalls(DescribeClustersCommand)[0].args[0].input).toEqual({ Filters: { clusterIds: [CLUSTER_ID] } });
  });

  test('an update to another cluster gives a new physical ID, so that CloudFormation deletes the old one\'s HSMs', async () => {
    const other = 'cluster-9z99z9zzzzz';
    client.on(DescribeClustersCommand).resolves({ Clusters: [{ ...cluster('ACTIVE'), ClusterId: other }] });
    await expect(handler(event('Update', { ClusterId: other }))).resolves.toEqual({ PhysicalResourceId: `${other}/hsms` });
    expect(client.commandCalls(DescribeClustersCommand)[0].args[0].input).toEqual({ Filters: { clusterIds: [other] } });
  });

  test('Delete returns the physical ID it was given and calls nothing, whatever its properties', async () => {
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: PHYSICAL_ID });
    await expect(handler(event('Delete', { ClusterId: undefined, HsmCount: 'x' }, { PhysicalResourceId: 'ClusterHsms-request' })))
      .resolves.toEqual({ PhysicalResourceId: 'ClusterHsms-request' });
    expect(client.calls()).toHaveLength(0);
  });

  test.each([
    ['no ClusterId', { ClusterId: undefined }],
    ['an empty ClusterId', { ClusterId: '' }],
    ['a ClusterId that is no string', { ClusterId: 42 }],
    ['no HsmCount', { HsmCount: undefined }],
    ['an empty HsmCount', { HsmCount: '' }],
    ['HsmCount 0', { HsmCount: '0' }],
    ['a negative HsmCount', { HsmCount: '-1' }],
    ['a fractional HsmCount', { HsmCount: '1.5' }],
    ['a HsmCount that is no number', { HsmCount: 'two' }],
  ])('%s is refused before any call, naming the resource that wrote it', async (_name, props) => {
    for (const type of ['Create', 'Update'] as const) {
      await expect(handler(event(type, props))).rejects.toThrow(
        /^The HSMs handler was called without ClusterId or HsmCount: the custom resource was not written by CloudHsmCluster$/,
      );
    }
    await expect(waitForHsms(event('Create', props))).rejects.toThrow(/^The HSMs handler was called without ClusterId or HsmCount/);
    expect(client.calls()).toHaveLength(0);
  });

  test('a cluster that does not exist is an error', async () => {
    describes(undefined);
    await expect(handler(event('Create'))).rejects.toThrow(
      new RegExp(`^CloudHSM cluster ${CLUSTER_ID} does not exist in this account and Region$`),
    );
  });

  test('another cluster in the answer is not taken for this one', async () => {
    client.on(DescribeClustersCommand).resolves({ Clusters: [{ ...cluster('ACTIVE'), ClusterId: 'cluster-other000000' }] });
    await expect(handler(event('Create'))).rejects.toThrow(`CloudHSM cluster ${CLUSTER_ID} does not exist`);
  });

  test.each(['DELETE_IN_PROGRESS', 'DELETED'])('a cluster %s takes no HSMs', async state => {
    describes(cluster(state));
    await expect(handler(event('Create'))).rejects.toThrow(
      new RegExp(`^CloudHSM cluster ${CLUSTER_ID} is ${state}: it cannot take HSMs$`),
    );
    await expect(handler(event('Update', { Activated: 'true' }))).rejects.toThrow(`is ${state}: it cannot take HSMs`);
  });

  test.each(['UNINITIALIZED', 'CREATE_IN_PROGRESS'])('activated: true on a %s cluster asks to initialize, activate, then deploy with activated: true', async state => {
    describes(cluster(state));
    const error = await failure(handler(event('Update', { Activated: 'true' })));
    expect(error.message).toMatch(new RegExp(`^CloudHSM cluster ${CLUSTER_ID} is ${state}, not activated, so it takes only one HSM: `));
    expect(error.message).toMatch(/initialize it \(certificateAuthority, or InitializeCluster with its signed certificate\), activate it with the CloudHSM CLI \(cluster activate\), then deploy with activated: true$/);
  });

  test('activated: true on an INITIALIZED cluster asks to activate it, not to initialize it again', async () => {
    describes(cluster('INITIALIZED', [hsm('hsm-aaaaaaaaaaa', 'us-east-1a')]));
    const error = await failure(handler(event('Update', { Activated: 'true' })));
    expect(error.message).toMatch(new RegExp(`^CloudHSM cluster ${CLUSTER_ID} is INITIALIZED, not activated, so it takes only one HSM: `));
    expect(error.message).toMatch(/activate it with the CloudHSM CLI \(cluster activate\) from a host in its VPC, then deploy with activated: true$/);
    expect(error.message).not.toContain('initialize it');
  });

  test.each(['ACTIVE', 'DEGRADED', 'UPDATE_IN_PROGRESS', 'MODIFY_IN_PROGRESS'])('activated: true on a %s cluster passes', async state => {
    describes(cluster(state, [hsm('hsm-aaaaaaaaaaa', 'us-east-1a')]));
    await expect(handler(event('Update', { Activated: 'true' }))).resolves.toEqual({ PhysicalResourceId: PHYSICAL_ID });
    expect(client.calls()).toHaveLength(1);
  });

  test.each(['UNINITIALIZED', 'INITIALIZED', 'CREATE_IN_PROGRESS', 'INITIALIZE_IN_PROGRESS'])('activated: false on a %s cluster passes', async state => {
    describes(cluster(state));
    await expect(handler(event('Create', { Activated: 'false' }))).resolves.toEqual({ PhysicalResourceId: PHYSICAL_ID });
    await expect(handler(event('Create', { Activated: undefined }))).resolves.toEqual({ PhysicalResourceId: PHYSICAL_ID });
  });

  test.each([
    ['CloudHsmAccessDeniedException', 'CloudHSM refused the request: the handler\'s role, a service control policy or a permissions boundary does not allow it'],
    ['CloudHsmInternalFailureException', 'CloudHSM failed internally; this is transient, retry the deployment'],
    ['CloudHsmServiceException', 'CloudHSM failed; this is usually transient, retry the deployment'],
    ['CloudHsmInvalidRequestException', 'CloudHSM refused the request as invalid for the cluster\'s state or configuration'],
    ['ThrottlingException', 'the request was throttled; retry the deployment'],
  ])('DescribeClusters failing with %s becomes what to do, with the error', async (name, remedy) => {
    client.on(DescribeClustersCommand).rejects(awsError(name));
    const error = await failure(handler(event('Create')));
    expect(error.message).toBe(`Cannot describe CloudHSM cluster ${CLUSTER_ID}: ${remedy} (${name}: ${name} from AWS)`);
  });

  test('an error with no remedy keeps its name and message', async () => {
    client.on(DescribeClustersCommand).rejects(awsError('NetworkingError'));
    await expect(handler(event('Create'))).rejects.toThrow(
      new RegExp(`^Cannot describe CloudHSM cluster ${CLUSTER_ID}: NetworkingError: NetworkingError from AWS$`),
    );
  });

  test('the client is destroyed whether the call succeeds or fails', async () => {
    const destroy = jest.spyOn(CloudHSMV2Client.prototype, 'destroy');
    describes(cluster('ACTIVE'));
    await handler(event('Create'));
    client.on(DescribeClustersCommand).rejects(awsError('CloudHsmAccessDeniedException'));
    await failure(handler(event('Create')));
    await failure(waitForHsms(event('Create')));
    expect(destroy).toHaveBeenCalledTimes(3);
    destroy.mockRestore();
  });
});

describe('the wait (isComplete) on Create and Update', () => {
  test('an UNINITIALIZED cluster with no HSM gets exactly one, in the first zone by name', async () => {
    describes(cluster('UNINITIALIZED', [], THREE_ZONES));
    await expect(waitForHsms(event('Create', { HsmCount: '3' }))).resolves.toEqual({ IsComplete: false });
    expect(created()).toEqual([{ ClusterId: CLUSTER_ID, AvailabilityZone: 'us-east-1a' }]);
    expect(deleted()).toEqual([]);
    expect(client.commandCalls(DescribeClustersCommand)[0].args[0].input).toEqual({ Filters: { clusterIds: [CLUSTER_ID] } });
  });

  test.each(['UNINITIALIZED', 'INITIALIZED'])('a %s cluster with its one ACTIVE HSM is done, whatever HsmCount', async state => {
    describes(cluster(state, [hsm('hsm-aaaaaaaaaaa', 'us-east-1b')]));
    await expect(waitForHsms(event('Create', { HsmCount: '4' }))).resolves.toEqual({ IsComplete: true, Data: { HsmIds: 'hsm-aaaaaaaaaaa' } });
    expect(created()).toEqual([]);
    expect(deleted()).toEqual([]);
  });

  test('an ACTIVE cluster with 1 HSM of 4 gets 3 more, so that its 2 zones end 2/2', async () => {
    describes(cluster('ACTIVE', [hsm('hsm-aaaaaaaaaaa', 'us-east-1a')]));
    await expect(waitForHsms(event('Update', { HsmCount: '4', Activated: 'true' }))).resolves.toEqual({ IsComplete: false });
    expect(created().every(input => input.ClusterId === CLUSTER_ID)).toBe(true);
    expect(createdZones()).toEqual(['us-east-1b', 'us-east-1a', 'us-east-1b']);
    expect(perZone(['us-east-1a', 'us-east-1b'], ['us-east-1a', ...createdZones()])).toEqual({ 'us-east-1a': 2, 'us-east-1b': 2 });
  });

  test('an ACTIVE cluster with no HSM and 5 asked over 3 zones ends 2/2/1, the extra one in the first zone', async () => {
    describes(cluster('ACTIVE', [], THREE_ZONES));
    await expect(waitForHsms(event('Update', { HsmCount: '5', Activated: 'true' }))).resolves.toEqual({ IsComplete: false });
    expect(createdZones()).toEqual(['us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1a', 'us-east-1b']);
  });

  test('HSMs being deleted do not count, and HSMs in zones the cluster no longer has are not counted in a zone', async () => {
    describes(cluster('ACTIVE', [hsm('hsm-aaaaaaaaaaa', 'us-east-1a'), hsm('hsm-ggggggggggg', 'us-west-2a'), hsm('hsm-zzzzzzzzzzz', 'us-east-1b', 'DELETED')]));
    await expect(waitForHsms(event('Update', { HsmCount: '3', Activated: 'true' }))).resolves.toEqual({ IsComplete: false });
    expect(createdZones()).toEqual(['us-east-1b']);
  });

  test.each(['CREATE_IN_PROGRESS', 'DELETE_IN_PROGRESS'])('while an HSM is %s it waits, and creates and deletes nothing', async state => {
    describes(cluster('ACTIVE', [hsm('hsm-aaaaaaaaaaa', 'us-east-1a'), hsm('hsm-bbbbbbbbbbb', 'us-east-1b', state)]));
    await expect(waitForHsms(event('Update', { HsmCount: '4', Activated: 'true' }))).resolves.toEqual({ IsComplete: false });
    describes(cluster('ACTIVE', [hsm('hsm-aaaaaaaaaaa', 'us-east-1a'), hsm('hsm-ccccccccccc', 'us-east-1a'), hsm('hsm-bbbbbbbbbbb', 'us-east-1b', state)]));
    await expect(waitForHsms(event('Update', { HsmCount: '1', Activated: 'true' }))).resolves.toEqual({ IsComplete: false });
    expect(created()).toEqual([]);
    expect(deleted()).toEqual([]);
  });

  test.each(['CREATE_IN_PROGRESS', 'INITIALIZE_IN_PROGRESS', 'UPDATE_IN_PROGRESS', 'MODIFY_IN_PROGRESS', 'ROLLBACK_IN_PROGRESS'])(
    'while the cluster is %s it waits, and creates and deletes nothing', async state => {
      describes(cluster(state, []));
      await expect(waitForHsms(event('Create', { HsmCount: '2' }))).resolves.toEqual({ IsComplete: false });
      describes(cluster(state, [hsm('hsm-aaaaaaaaaaa', 'us-east-1a'), hsm('hsm-bbbbbbbbbbb', 'us-east-1a'), hsm('hsm-ccccccccccc', 'us-east-1b')]));
      await expect(waitForHsms(event('Update', { HsmCount: '1', Activated: 'true' }))).resolves.toEqual({ IsComplete: false });
      expect(created()).toEqual([]);
      expect(deleted()).toEqual([]);
    },
  );

  test('an activated cluster with more HSMs than asked loses the extra ones from the zone that has the most', async () => {
    describes(cluster('ACTIVE', [
      hsm('hsm-a2', 'us-east-1a'), hsm('hsm-b1', 'us-east-1b'), hsm('hsm-a3', 'us-east-1a'), hsm('hsm-a1', 'us-east-1a'), hsm('hsm-c1', 'us-east-1c'),
    ], THREE_ZONES));
    await expect(waitForHsms(event('Update', { HsmCount: '3', Activated: 'true' }))).resolves.toEqual({ IsComplete: false });
    expect(deleted()).toEqual([{ ClusterId: CLUSTER_ID, HsmId: 'hsm-a3' }, { ClusterId: CLUSTER_ID, HsmId: 'hsm-a2' }]);
    expect(created()).toEqual([]);
  });

  test('removing from zones tied for the most takes one from each, in name order', async () => {
    describes(cluster('ACTIVE', [
      hsm('hsm-b1', 'us-east-1b'), hsm('hsm-b2', 'us-east-1b'), hsm('hsm-a1', 'us-east-1a'), hsm('hsm-a2', 'us-east-1a'), hsm('hsm-c1', 'us-east-1c'),
    ], THREE_ZONES));
    await waitForHsms(event('Update', { HsmCount: '3', Activated: 'true' }));
    expect(deleted().map(input => input.HsmId)).toEqual(['hsm-a2', 'hsm-b2']);
  });

  test('an HSM deleted meanwhile (by a retried poll) is no error', async () => {
    describes(cluster('ACTIVE', [hsm('hsm-a1', 'us-east-1a'), hsm('hsm-a2', 'us-east-1a'), hsm('hsm-b1', 'us-east-1b')]));
    client.on(DeleteHsmCommand).rejects(awsError('CloudHsmResourceNotFoundException'));
    await expect(waitForHsms(event('Update', { HsmCount: '2', Activated: 'true' }))).resolves.toEqual({ IsComplete: false });
    expect(deleted()).toEqual([{ ClusterId: CLUSTER_ID, HsmId: 'hsm-a2' }]);
  });

  test('a failed DeleteHsm of an extra HSM names the HSM and the cluster', async () => {
    describes(cluster('ACTIVE', [hsm('hsm-a1', 'us-east-1a'), hsm('hsm-a2', 'us-east-1a'), hsm('hsm-b1', 'us-east-1b')]));
    client.on(DeleteHsmCommand).rejects(awsError('CloudHsmInvalidRequestException'));
    await expect(waitForHsms(event('Update', { HsmCount: '2', Activated: 'true' }))).rejects.toThrow(
      `Cannot delete HSM hsm-a2 (us-east-1a, ACTIVE) of CloudHSM cluster ${CLUSTER_ID}: CloudHSM refused the request as invalid for the cluster's state or configuration (CloudHsmInvalidRequestException: CloudHsmInvalidRequestException from AWS)`,
    );
  });

  test('a cluster not activated keeps HSMs someone else added, as its comment says (only an activated cluster is taken down)', async () => {
    describes(cluster('INITIALIZED', [hsm('hsm-a1', 'us-east-1a'), hsm('hsm-b1', 'us-east-1b')]));
    await expect(waitForHsms(event('Update', { HsmCount: '1' }))).resolves.toEqual({ IsComplete: true, Data: { HsmIds: 'hsm-a1,hsm-b1' } });
    expect(deleted()).toEqual([]);
  });

  test('a DEGRADED HSM keeps it waiting, and nothing is sent: CloudHSM replaces it', async () => {
    describes(cluster('ACTIVE', [hsm('hsm-aaaaaaaaaaa', 'us-east-1a'), hsm('hsm-bbbbbbbbbbb', 'us-east-1b', 'DEGRADED')]));
    await expect(waitForHsms(event('Update', { HsmCount: '2', Activated: 'true' }))).resolves.toEqual({ IsComplete: false });
    expect(client.calls()).toHaveLength(1);
  });

  test('done when every HSM asked is ACTIVE: the HSM IDs sorted, comma-joined', async () => {
    describes(cluster('DEGRADED', [
      hsm('hsm-ccccccccccc', 'us-east-1c'), hsm('hsm-aaaaaaaaaaa', 'us-east-1a'), hsm('hsm-bbbbbbbbbbb', 'us-east-1b'),
      hsm('hsm-00000000000', 'us-east-1a', 'DELETED'),
    ], THREE_ZONES));
    await expect(waitForHsms(event('Update', { HsmCount: '3', Activated: 'true' }))).resolves.toEqual({
      IsComplete: true, Data: { HsmIds: 'hsm-aaaaaaaaaaa,hsm-bbbbbbbbbbb,hsm-ccccccccccc' },
    });
    expect(client.calls()).toHaveLength(1);
  });

  test('a retried poll never creates twice: the second sees the first one\'s HSM CREATE_IN_PROGRESS', async () => {
    client.on(DescribeClustersCommand)
      .resolvesOnce({ Clusters: [cluster('UNINITIALIZED', [])] })
      .resolves({ Clusters: [cluster('UNINITIALIZED', [hsm('hsm-aaaaaaaaaaa', 'us-east-1a', 'CREATE_IN_PROGRESS')])] });
    await expect(waitForHsms(event('Create'))).resolves.toEqual({ IsComplete: false });
    await expect(waitForHsms(event('Create'))).resolves.toEqual({ IsComplete: false });
    expect(created()).toEqual([{ ClusterId: CLUSTER_ID, AvailabilityZone: 'us-east-1a' }]);
  });

  test('after activation, a retried poll does not create again what the first poll started', async () => {
    const first = [hsm('hsm-a1', 'us-east-1a')];
    client.on(DescribeClustersCommand)
      .resolvesOnce({ Clusters: [cluster('ACTIVE', first)] })
      .resolvesOnce({ Clusters: [cluster('ACTIVE', [...first, hsm('hsm-b1', 'us-east-1b', 'CREATE_IN_PROGRESS'), hsm('hsm-a2', 'us-east-1a', 'CREATE_IN_PROGRESS')])] })
      .resolves({ Clusters: [cluster('ACTIVE', [...first, hsm('hsm-b1', 'us-east-1b'), hsm('hsm-a2', 'us-east-1a')])] });
    const update = event('Update', { HsmCount: '3', Activated: 'true' });
    await expect(waitForHsms(update)).resolves.toEqual({ IsComplete: false });
    await expect(waitForHsms(update)).resolves.toEqual({ IsComplete: false });
    await expect(waitForHsms(update)).resolves.toEqual({ IsComplete: true, Data: { HsmIds: 'hsm-a1,hsm-a2,hsm-b1' } });
    expect(createdZones()).toEqual(['us-east-1b', 'us-east-1a']);
  });

  test.each([
    ['CloudHsmInvalidRequestException', 'CloudHSM refused the request as invalid for the cluster\'s state or configuration'],
    ['CloudHsmResourceLimitExceededException', 'a CloudHSM quota is reached (HSMs per cluster or per account and Region): ask for an increase in Service Quotas or lower hsmsPerCluster'],
    ['CloudHsmAccessDeniedException', 'CloudHSM refused the request: the handler\'s role, a service control policy or a permissions boundary does not allow it'],
    ['CloudHsmInternalFailureException', 'CloudHSM failed internally; this is transient, retry the deployment'],
    ['CloudHsmServiceException', 'CloudHSM failed; this is usually transient, retry the deployment'],
  ])('CreateHsm failing with %s names the zone, the cluster and what to do', async (name, remedy) => {
    describes(cluster('UNINITIALIZED', []));
    client.on(CreateHsmCommand).rejects(awsError(name));
    const error = await failure(waitForHsms(event('Create')));
    expect(error.message).toBe(`Cannot create an HSM in us-east-1a for CloudHSM cluster ${CLUSTER_ID}: ${remedy} (${name}: ${name} from AWS)`);
  });

  test('a CreateHsm failing after one of the poll started stops the poll, and the next poll asks again', async () => {
    describes(cluster('ACTIVE', [], THREE_ZONES));
    client.on(CreateHsmCommand).resolvesOnce({ Hsm: hsm('hsm-a1', 'us-east-1a', 'CREATE_IN_PROGRESS') })
      .rejects(awsError('CloudHsmResourceLimitExceededException'));
    await expect(waitForHsms(event('Update', { HsmCount: '3', Activated: 'true' }))).resolves.toEqual({ IsComplete: false });
    expect(createdZones()).toEqual(['us-east-1a', 'us-east-1b']);
    // The next poll, once the first is active, fails as nothing of its own started.
    client.reset();
    describes(cluster('ACTIVE', [hsm('hsm-a1', 'us-east-1a')], THREE_ZONES));
    client.on(CreateHsmCommand).rejects(awsError('CloudHsmResourceLimitExceededException'));
    await expect(waitForHsms(event('Update', { HsmCount: '3', Activated: 'true' }))).rejects.toThrow(
      `Cannot create an HSM in us-east-1b for CloudHSM cluster ${CLUSTER_ID}: a CloudHSM quota is reached`,
    );
    expect(createdZones()).toEqual(['us-east-1b']);
  });

  test('a cluster with no subnet has no zone for an HSM', async () => {
    describes(cluster('UNINITIALIZED', [], []));
    await expect(waitForHsms(event('Create'))).rejects.toThrow('The cluster has no subnets, so no Availability Zone for an HSM');
    expect(created()).toEqual([]);
  });

  test.each(['DELETE_IN_PROGRESS', 'DELETED'])('a cluster %s meanwhile fails the wait', async state => {
    describes(cluster(state, [hsm('hsm-aaaaaaaaaaa', 'us-east-1a')]));
    await expect(waitForHsms(event('Create'))).rejects.toThrow(
      new RegExp(`^CloudHSM cluster ${CLUSTER_ID} is ${state}: it was deleted while its HSMs were being made$`),
    );
    expect(created()).toEqual([]);
  });

  test('a cluster gone meanwhile fails the wait', async () => {
    describes(undefined);
    await expect(waitForHsms(event('Update'))).rejects.toThrow(`CloudHSM cluster ${CLUSTER_ID} does not exist in this account and Region`);
  });

  test.each(['ThrottlingException', 'CloudHsmInternalFailureException', 'CloudHsmServiceException'])(
    'DescribeClusters failing with %s, which is transient, only means not done yet: the next poll asks again', async name => {
      client.on(DescribeClustersCommand).rejects(awsError(name));
      await expect(waitForHsms(event('Create'))).resolves.toEqual({ IsComplete: false });
      await expect(waitForHsms(event('Delete'))).resolves.toEqual({ IsComplete: false });
      expect(created()).toEqual([]);
    });

  test('DescribeClusters failing otherwise fails the wait with what to do', async () => {
    client.on(DescribeClustersCommand).rejects(awsError('CloudHsmAccessDeniedException'));
    await expect(waitForHsms(event('Create'))).rejects.toThrow(
      `Cannot describe CloudHSM cluster ${CLUSTER_ID}: CloudHSM refused the request: the handler's role, a service control policy or a permissions boundary does not allow it (CloudHsmAccessDeniedException: CloudHsmAccessDeniedException from AWS)`,
    );
  });

  test('activated: true on a new cluster that replaced the old one says so, and how to keep the old one', async () => {
    describes(cluster('UNINITIALIZED', [], TWO_ZONES, 'cluster-2newclusterab'));
    const error = await failure(handler(event('Update', { ClusterId: 'cluster-2newclusterab', Activated: 'true' }, {
      OldResourceProperties: { ...PROPS, Activated: 'true' },
    })));
    expect(error.message).toBe(`CloudHSM cluster cluster-2newclusterab is new, replacing ${CLUSTER_ID} (its subnets, mode or HSM type changed): `
      + `a new cluster has no keys and is UNINITIALIZED. To keep ${CLUSTER_ID}, put its subnets, mode and HSM type back; `
      + 'to start over, deploy with activated: false and go through the ceremony again');
  });
});

describe('the wait (isComplete) on Delete', () => {
  test('deletes every live HSM, and is not done while they go', async () => {
    describes(cluster('ACTIVE', [
      hsm('hsm-a1', 'us-east-1a'), hsm('hsm-b1', 'us-east-1b', 'DEGRADED'), hsm('hsm-a2', 'us-east-1a', 'DELETE_IN_PROGRESS'),
      hsm('hsm-b0', 'us-east-1b', 'DELETED'),
    ]));
    await expect(waitForHsms(event('Delete'))).resolves.toEqual({ IsComplete: false });
    expect(deleted()).toEqual([{ ClusterId: CLUSTER_ID, HsmId: 'hsm-a1' }, { ClusterId: CLUSTER_ID, HsmId: 'hsm-b1' }]);
    expect(created()).toEqual([]);
  });

  test('an HSM CREATE_IN_PROGRESS is waited for, not deleted yet', async () => {
    describes(cluster('UNINITIALIZED', [hsm('hsm-a1', 'us-east-1a', 'CREATE_IN_PROGRESS')]));
    await expect(waitForHsms(event('Delete'))).resolves.toEqual({ IsComplete: false });
    expect(deleted()).toEqual([]);
    describes(cluster('ACTIVE', [hsm('hsm-a1', 'us-east-1a', 'CREATE_IN_PROGRESS'), hsm('hsm-b1', 'us-east-1b')]));
    await expect(waitForHsms(event('Delete'))).resolves.toEqual({ IsComplete: false });
    expect(deleted()).toEqual([{ ClusterId: CLUSTER_ID, HsmId: 'hsm-b1' }]);
  });

  test('not done while an HSM is DELETE_IN_PROGRESS, and nothing is sent for it', async () => {
    describes(cluster('ACTIVE', [hsm('hsm-a1', 'us-east-1a', 'DELETE_IN_PROGRESS')]));
    await expect(waitForHsms(event('Delete'))).resolves.toEqual({ IsComplete: false });
    expect(client.calls()).toHaveLength(1);
  });

  test.each([
    ['no HSM', []],
    ['only DELETED HSMs', [hsm('hsm-a1', 'us-east-1a', 'DELETED')]],
  ])('done with %s left', async (_name, hsms) => {
    describes(cluster('ACTIVE', hsms as Hsm[]));
    await expect(waitForHsms(event('Delete'))).resolves.toEqual({ IsComplete: true });
    expect(client.calls()).toHaveLength(1);
  });

  test('done when the cluster is already gone', async () => {
    describes(undefined);
    await expect(waitForHsms(event('Delete'))).resolves.toEqual({ IsComplete: true });
    expect(client.commandCalls(DescribeClustersCommand)[0].args[0].input).toEqual({ Filters: { clusterIds: [CLUSTER_ID] } });
    expect(client.calls()).toHaveLength(1);
  });

  test('a cluster that is being deleted still has its HSMs deleted', async () => {
    describes(cluster('DELETE_IN_PROGRESS', [hsm('hsm-a1', 'us-east-1a')]));
    await expect(waitForHsms(event('Delete'))).resolves.toEqual({ IsComplete: false });
    expect(deleted()).toEqual([{ ClusterId: CLUSTER_ID, HsmId: 'hsm-a1' }]);
  });

  test('an HSM already deleted (CloudHsmResourceNotFoundException) is ignored, and the others still deleted', async () => {
    describes(cluster('ACTIVE', [hsm('hsm-a1', 'us-east-1a'), hsm('hsm-b1', 'us-east-1b')]));
    client.on(DeleteHsmCommand, { HsmId: 'hsm-a1' }).rejects(awsError('CloudHsmResourceNotFoundException'));
    client.on(DeleteHsmCommand, { HsmId: 'hsm-b1' }).resolves({ HsmId: 'hsm-b1' });
    await expect(waitForHsms(event('Delete'))).resolves.toEqual({ IsComplete: false });
    expect(deleted().map(input => input.HsmId)).toEqual(['hsm-a1', 'hsm-b1']);
  });

  test.each([
    ['CloudHsmInvalidRequestException', 'CloudHSM refused the request as invalid for the cluster\'s state or configuration'],
    ['CloudHsmAccessDeniedException', 'CloudHSM refused the request: the handler\'s role, a service control policy or a permissions boundary does not allow it'],
    ['ThrottlingException', 'the request was throttled; retry the deployment'],
  ])('DeleteHsm failing with %s names the HSM and what to do', async (name, remedy) => {
    describes(cluster('ACTIVE', [hsm('hsm-a1', 'us-east-1a', 'DEGRADED')]));
    client.on(DeleteHsmCommand).rejects(awsError(name));
    const error = await failure(waitForHsms(event('Delete')));
    expect(error.message).toBe(`Cannot delete HSM hsm-a1 (us-east-1a, DEGRADED) of CloudHSM cluster ${CLUSTER_ID}: ${remedy} (${name}: ${name} from AWS)`);
  });

  test('DescribeClusters failing fails the deletion with what to do', async () => {
    client.on(DescribeClustersCommand).rejects(awsError('CloudHsmAccessDeniedException'));
    await expect(waitForHsms(event('Delete'))).rejects.toThrow(
      /^Cannot describe CloudHSM cluster cluster-1a23b4cdefg: CloudHSM refused the request: .*\(CloudHsmAccessDeniedException: /,
    );
  });
});

describe('the shared logic', () => {
  test('readHsmsProperties keeps the properties and reads the count and the activation', () => {
    expect(readHsmsProperties({ ...PROPS, HsmCount: '3', Activated: 'true' })).toEqual({
      ...PROPS, HsmCount: '3', Activated: 'true', count: 3, activated: true,
    });
    expect(readHsmsProperties({ ClusterId: CLUSTER_ID, HsmCount: '1' })).toMatchObject({ count: 1, activated: false });
    expect(readHsmsProperties({ ClusterId: CLUSTER_ID, HsmCount: '1', Activated: 'TRUE' }).activated).toBe(false);
  });

  test.each([
    ['CREATE_IN_PROGRESS', false], ['UNINITIALIZED', false], ['INITIALIZE_IN_PROGRESS', false], ['INITIALIZED', false],
    ['ACTIVE', true], ['DEGRADED', true], ['UPDATE_IN_PROGRESS', true], ['MODIFY_IN_PROGRESS', true],
    ['ROLLBACK_IN_PROGRESS', false], ['DELETE_IN_PROGRESS', false], ['DELETED', false],
  ])('a %s cluster is activated: %s; its target is all HSMs asked only then', (state, activated) => {
    expect(isActivated(cluster(state as string))).toBe(activated);
    expect(targetHsms(cluster(state as string), 4)).toBe(activated ? 4 : 1);
  });

  test('a cluster with no state is not activated', () => {
    expect(isActivated({ ClusterId: CLUSTER_ID })).toBe(false);
  });

  test('liveHsms leaves out the HSMs being deleted or deleted', () => {
    const all = ['ACTIVE', 'CREATE_IN_PROGRESS', 'DEGRADED', 'DELETE_IN_PROGRESS', 'DELETED'].map((state, i) => hsm(`hsm-${i}`, 'us-east-1a', state));
    expect(liveHsms(cluster('ACTIVE', all)).map(h => h.State)).toEqual(['ACTIVE', 'CREATE_IN_PROGRESS', 'DEGRADED']);
    expect(liveHsms({ ClusterId: CLUSTER_ID })).toEqual([]);
  });

  test('clusterZones are the subnets\' zones in name order', () => {
    expect(clusterZones(cluster('ACTIVE', [], THREE_ZONES))).toEqual(['us-east-1a', 'us-east-1b', 'us-east-1c']);
    expect(clusterZones({ ClusterId: CLUSTER_ID })).toEqual([]);
  });

  test('explainCloudHsm of something that is not an AWS error still says what it was', () => {
    expect(explainCloudHsm('boom')).toBe('Error: boom');
    expect(explainCloudHsm(awsError('CloudHsmTagException'))).toBe('CloudHSM refused the cluster\'s tags (CloudHsmTagException: CloudHsmTagException from AWS)');
  });
});

describe('placement, for any zones and HSMs', () => {
  const ZONE_NAMES = ['us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1d', 'us-east-1e', 'us-east-1f', 'eu-west-3a', 'ap-south-2c'];
  /** 1 to 4 zones with unique names, and how many HSMs each has (up to 6). */
  const placement = fc.uniqueArray(fc.constantFrom(...ZONE_NAMES), { minLength: 1, maxLength: 4 })
    .chain(zones => fc.record({
      zones: fc.constant(zones),
      counts: fc.array(fc.nat({ max: 6 }), { minLength: zones.length, maxLength: zones.length }),
    }));

  /** The HSMs of this placement, in an order that does not follow their zones. */
  function hsmsOf(zones: string[], counts: number[]): Hsm[] {
    const hsms = zones.flatMap((zone, z) => Array.from({ length: counts[z] }, (_, i) => hsm(`hsm-${z}${i}`, zone)));
    return hsms.sort((a, b) => (a.HsmId!.split('').reverse().join('')).localeCompare(b.HsmId!.split('').reverse().join('')));
  }

  test('adding n HSMs never leaves the zones wider apart than max(1, before), and each goes to a zone with the fewest', () => {
    fc.assert(fc.property(placement, fc.nat({ max: 12 }), ({ zones, counts }, n) => {
      const hsms = hsmsOf(zones, counts);
      const chosen = zonesForNewHsms(zones, hsms, n);
      expect(chosen).toHaveLength(n);
      const after = perZone(zones, hsms.map(h => h.AvailabilityZone));
      for (const zone of chosen) {
        expect(after[zone]).toBe(Math.min(...Object.values(after)));
        after[zone] += 1;
      }
      expect(spread(after)).toBeLessThanOrEqual(Math.max(1, spread(counts)));
    }), { numRuns: 300 });
  });

  test('from an even spread, adding any n keeps the zones at most one apart', () => {
    const even = fc.uniqueArray(fc.constantFrom(...ZONE_NAMES), { minLength: 1, maxLength: 4 });
    fc.assert(fc.property(even, fc.nat({ max: 4 }), fc.nat({ max: 20 }), (zones, each, n) => {
      const hsms = hsmsOf(zones, zones.map(() => each));
      const after = perZone(zones, [...hsms.map(h => h.AvailabilityZone), ...zonesForNewHsms(zones, hsms, n)]);
      expect(spread(after)).toBeLessThanOrEqual(1);
      expect(Object.values(after).reduce((a, b) => a + b, 0)).toBe(zones.length * each + n);
    }), { numRuns: 300 });
  });

  test('the zones chosen do not depend on the order of the zones or the HSMs', () => {
    fc.assert(fc.property(placement, fc.nat({ max: 8 }), ({ zones, counts }, n) => {
      const hsms = hsmsOf(zones, counts);
      const sorted = [...zones].sort();
      expect(zonesForNewHsms([...zones].reverse(), [...hsms].reverse(), n)).toEqual(zonesForNewHsms(sorted, hsms, n));
    }), { numRuns: 200 });
  });

  test('removing n HSMs returns n distinct ones, each from a zone with the most, never leaving the zones wider apart than max(1, before)', () => {
    const removal = placement.filter(({ counts }) => counts.some(c => c > 0))
      .chain(p => fc.record({ p: fc.constant(p), n: fc.integer({ min: 1, max: p.counts.reduce((a, b) => a + b, 0) }) }));
    fc.assert(fc.property(removal, ({ p: { zones, counts }, n }) => {
      const hsms = hsmsOf(zones, counts);
      const removed = hsmsToRemove(hsms, n);
      expect(removed).toHaveLength(n);
      expect(new Set(removed.map(h => h.HsmId)).size).toBe(n);
      for (const h of removed) expect(hsms).toContain(h);
      const left = perZone(zones, hsms.map(h => h.AvailabilityZone));
      for (const h of removed) {
        expect(left[h.AvailabilityZone!]).toBe(Math.max(...Object.values(left)));
        left[h.AvailabilityZone!] -= 1;
      }
      const before = spread(counts);
      expect(spread(left)).toBeLessThanOrEqual(Math.max(1, before));
      // Only a perfectly even spread can widen, and then by one HSM at most.
      if (before > 0) expect(spread(left)).toBeLessThanOrEqual(before);
    }), { numRuns: 300 });
  });

  test('removing leaves the input as it was', () => {
    const hsms = [hsm('hsm-a1', 'us-east-1a'), hsm('hsm-a2', 'us-east-1a'), hsm('hsm-b1', 'us-east-1b')];
    const copy = JSON.parse(JSON.stringify(hsms));
    hsmsToRemove(hsms, 2);
    expect(hsms).toEqual(copy);
  });

  test('the wait, polled against a simulated cluster, ends with HsmCount HSMs as even as they started, creating or deleting each once', async () => {
    await fc.assert(fc.asyncProperty(placement, fc.integer({ min: 1, max: 8 }), async ({ zones, counts }, count) => {
      client.reset();
      let hsms = hsmsOf(zones, counts);
      let next = 0;
      client.on(DescribeClustersCommand).callsFake(() => {
        // CloudHSM finishes what was started by the time of the next poll.
        const answer = { Clusters: [cluster('ACTIVE', hsms.map(h => ({ ...h })), zones)] };
        hsms = hsms.filter(h => h.State !== 'DELETE_IN_PROGRESS').map(h => ({ ...h, State: 'ACTIVE' }));
        return answer;
      });
      client.on(CreateHsmCommand).callsFake(input => {
        const made = hsm(`hsm-new${String(next++).padStart(3, '0')}`, input.AvailabilityZone, 'CREATE_IN_PROGRESS');
        hsms = [...hsms, made];
        return { Hsm: made };
      });
      client.on(DeleteHsmCommand).callsFake(input => {
        hsms = hsms.map(h => (h.HsmId === input.HsmId ? { ...h, State: 'DELETE_IN_PROGRESS' } : h));
        return { HsmId: input.HsmId };
      });
      const update = event('Update', { HsmCount: String(count), Activated: 'true' });
      let result = await waitForHsms(update);
      for (let poll = 0; !result.IsComplete && poll < 5; poll++) result = await waitForHsms(update);
      expect(result.IsComplete).toBe(true);
      const total = counts.reduce((a, b) => a + b, 0);
      expect(result.Data!.HsmIds.split(',')).toHaveLength(count);
      expect(created()).toHaveLength(Math.max(0, count - total));
      expect(deleted()).toHaveLength(Math.max(0, total - count));
      expect(spread(perZone(zones, hsms.map(h => h.AvailabilityZone)))).toBeLessThanOrEqual(Math.max(1, spread(counts)));
    }), { numRuns: 60 });
  });
});
