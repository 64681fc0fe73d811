/*
 * The wait of a CloudHsmCluster's HSMs (isComplete), run by the aws-cdk-lib Provider
 * framework every 30 seconds. Each call looks at the cluster and takes one step
 * towards what was asked, so a retried or repeated call never makes an HSM twice:
 *
 * - while the cluster or one of its HSMs is changing, it waits;
 * - with too few HSMs it creates the missing ones, each in the Availability Zone
 *   that then has the fewest; with too many (hsmsPerCluster lowered) it deletes
 *   from the zone that has the most;
 * - done when every HSM is ACTIVE and there are as many as asked: all of them once
 *   the cluster is activated, the first one before (CloudHSM takes no second HSM
 *   until then).
 * - On delete it deletes every HSM of the cluster its physical ID names (not one of the
 *   event's properties) and is done when none is left.
 * It acts only on CloudFormation's events for its own stack's clusters.
 * @see https://docs.aws.amazon.com/cloudhsm/latest/userguide/add-hsm.html
 */
import { CloudHSMV2Client, CreateHsmCommand, DeleteHsmCommand, Hsm } from '@aws-sdk/client-cloudhsm-v2';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import {
  checkStackCluster, clusterOfHsms,
  clusterZones, describeCluster, describeHsms, explainCloudHsm, findCluster, hsmsToRemove, isActivated, isChanging, liveHsms, pollingThrough,
  readHsmsProperties,
  targetHsms, zonesForNewHsms,
} from './cloudhsm-api';
import { ForgedEventError, verifyEvent } from '../custom-resources/event-verification';
import { isError } from '../custom-resources/handler-errors';
import { CLUSTER_HSMS_TYPE, CLUSTER_STACK_TAG, STACK_ID_VARIABLE } from '../custom-resources/resource-types';

export interface HsmsReadyResponse {
  readonly IsComplete: boolean;
  readonly Data?: { readonly HsmIds: string };
}

export async function handler(event: CloudFormationCustomResourceEvent): Promise<HsmsReadyResponse> {
  const verified = await verifyEvent(event, CLUSTER_HSMS_TYPE, 'isComplete');
  const props = event.RequestType === 'Delete' ? undefined : readHsmsProperties(event.ResourceProperties);
  if (props) await checkStackCluster(event, props.ClusterId, props.ClusterLogicalId);
  const client = new CloudHSMV2Client({});
  try {
    return await pollingThrough(() => props
      ? reconcile(client, props.ClusterId, props.count)
      : removeAll(client, clusterOfHsms((event as { PhysicalResourceId: string }).PhysicalResourceId), verified.replaced ? event : undefined));
  } finally {
    client.destroy();
  }
}

async function reconcile(client: CloudHSMV2Client, clusterId: string, count: number): Promise<HsmsReadyResponse> {
  const cluster = await describeCluster(client, clusterId);
  if (cluster.State === 'DELETE_IN_PROGRESS' || cluster.State === 'DELETED') {
    throw new Error(`CloudHSM cluster ${clusterId} is ${cluster.State}: it was deleted while its HSMs were being made`);
  }
  const hsms = liveHsms(cluster);
  const deleting = (cluster.Hsms ?? []).filter(hsm => hsm.State === 'DELETE_IN_PROGRESS');
  if (isChanging(cluster) || deleting.length > 0 || hsms.some(hsm => hsm.State === 'CREATE_IN_PROGRESS')) {
    return { IsComplete: false };
  }
  const target = targetHsms(cluster, count);
  if (hsms.length < target) {
    let created = 0;
    for (const zone of zonesForNewHsms(clusterZones(cluster), hsms, target - hsms.length)) {
      try {
        await createHsm(client, clusterId, zone);
        created++;
      } catch (error) {
        // Once an HSM of this poll is under way, the rest wait for the next poll,
        // which asks again: a failure then, with nothing started, fails the wait.
        if (created === 0) throw error;
        console.log(JSON.stringify({ level: 'WARN', message: `${(error as Error).message}; asking again at the next poll` }));
        break;
      }
    }
    return { IsComplete: false };
  }
  // Only an activated cluster is taken down to what was asked: before activation
  // the target is the first HSM, and HSMs someone else added are left alone.
  if (isActivated(cluster) && hsms.length > count) {
    for (const hsm of hsmsToRemove(hsms, hsms.length - count)) await deleteHsm(client, clusterId, hsm);
    return { IsComplete: false };
  }
  const degraded = hsms.filter(hsm => hsm.State !== 'ACTIVE');
  if (degraded.length > 0) {
    // CloudHSM replaces an HSM that stays unhealthy; the deployment waits for it.
    return { IsComplete: false };
  }
  return { IsComplete: true, Data: { HsmIds: hsms.map(hsm => hsm.HsmId).sort().join(',') } };
}

/**
 * Deletes the cluster's HSMs, one poll at a time. The cluster of an earlier physical ID
 * (`replaced`: CloudFormation is cleaning up after an update) must carry its stack's
 * tag, which CloudHsmCluster writes: CloudFormation's record no longer names it.
 */
async function removeAll(client: CloudHSMV2Client, clusterId: string, replaced?: CloudFormationCustomResourceEvent): Promise<HsmsReadyResponse> {
  const cluster = await findCluster(client, clusterId);
  // A cluster already gone has no HSM left to delete.
  if (!cluster) return { IsComplete: true };
  const stack = cluster.TagList?.find(tag => tag.Key === CLUSTER_STACK_TAG)?.Value;
  if (replaced && stack !== process.env[STACK_ID_VARIABLE]) {
    throw new ForgedEventError(`Refused a Delete event for ${replaced.LogicalResourceId} (an earlier cluster of the resource): CloudHSM cluster ${clusterId} `
      + `${stack ? `was made by stack ${stack}` : `has no ${CLUSTER_STACK_TAG} tag`}, so it is not this stack's. The HSMs handler changed nothing`);
  }
  const left = liveHsms(cluster);
  const deleting = (cluster.Hsms ?? []).filter(hsm => hsm.State === 'DELETE_IN_PROGRESS');
  if (left.length === 0 && deleting.length === 0) return { IsComplete: true };
  // An HSM still being created cannot be deleted yet; it is deleted once active.
  for (const hsm of left.filter(h => h.State !== 'CREATE_IN_PROGRESS')) await deleteHsm(client, clusterId, hsm);
  return { IsComplete: false };
}

async function createHsm(client: CloudHSMV2Client, clusterId: string, zone: string): Promise<void> {
  try {
    await client.send(new CreateHsmCommand({ ClusterId: clusterId, AvailabilityZone: zone }));
  } catch (error) {
    throw new Error(`Cannot create an HSM in ${zone} for CloudHSM cluster ${clusterId}: ${explainCloudHsm(error)}`);
  }
}

async function deleteHsm(client: CloudHSMV2Client, clusterId: string, hsm: Hsm): Promise<void> {
  try {
    await client.send(new DeleteHsmCommand({ ClusterId: clusterId, HsmId: hsm.HsmId }));
  } catch (error) {
    // Deleted meanwhile (by a retried call): what was asked is done.
    if (isError(error, 'CloudHsmResourceNotFoundException')) return;
    throw new Error(`Cannot delete HSM ${describeHsms([hsm])} of CloudHSM cluster ${clusterId}: ${explainCloudHsm(error)}`);
  }
}
