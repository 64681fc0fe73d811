/*
 * The custom-resource handler of a CloudHsmCluster's HSMs (onEvent), run by the
 * aws-cdk-lib Provider framework. It checks what was asked against the cluster and
 * starts nothing itself: the wait (cloudhsm-hsms-ready, isComplete) creates and
 * deletes HSMs one poll at a time until the cluster has what was asked, which makes
 * every step safe to repeat under CloudFormation's retries.
 *
 * - Create and Update: the cluster must exist. An uninitialized cluster gets one HSM
 *   (CloudHSM takes no second one before activation); once activated, all of them.
 *   `Activated: true` on a cluster that was not activated fails with the step missing.
 * - Delete (with RemovalPolicy.DESTROY, or on the rollback of the deployment that
 *   created them; otherwise CloudFormation keeps the HSMs with the cluster and calls
 *   nothing): the wait deletes every HSM of the cluster, as CloudHSM deletes a
 *   cluster only once it has none.
 * It acts only on CloudFormation's events for its own stack's clusters.
 * @see https://docs.aws.amazon.com/cloudhsm/latest/userguide/create-hsm.html
 */
import { CloudHSMV2Client } from '@aws-sdk/client-cloudhsm-v2';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { checkStackCluster, describeCluster, isActivated, readHsmsProperties } from './cloudhsm-api';
import { verifyEvent } from '../custom-resources/event-verification';
import { CLUSTER_HSMS_TYPE } from '../custom-resources/resource-types';

export interface HsmsResponse {
  readonly PhysicalResourceId: string;
}

export async function handler(event: CloudFormationCustomResourceEvent): Promise<HsmsResponse> {
  await verifyEvent(event, CLUSTER_HSMS_TYPE, 'onEvent');
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
  const props = readHsmsProperties(event.ResourceProperties);
  await checkStackCluster(event, props.ClusterId, props.ClusterLogicalId);
  const client = new CloudHSMV2Client({});
  try {
    const cluster = await describeCluster(client, props.ClusterId);
    if (cluster.State === 'DELETE_IN_PROGRESS' || cluster.State === 'DELETED') {
      throw new Error(`CloudHSM cluster ${props.ClusterId} is ${cluster.State}: it cannot take HSMs`);
    }
    const replaced = event.RequestType === 'Update' ? String(event.OldResourceProperties.ClusterId ?? '') : '';
    if (props.activated && !isActivated(cluster) && replaced !== '' && replaced !== props.ClusterId) {
      throw new Error(`CloudHSM cluster ${props.ClusterId} is new, replacing ${replaced} (its subnets, mode or HSM type changed): `
        + `a new cluster has no keys and is ${cluster.State}. To keep ${replaced}, put its subnets, mode and HSM type back; `
        + 'to start over, deploy with activated: false and go through the ceremony again');
    }
    if (props.activated && !isActivated(cluster)) {
      throw new Error(`CloudHSM cluster ${props.ClusterId} is ${cluster.State}, not activated, so it takes only one HSM: `
        + (cluster.State === 'UNINITIALIZED' || cluster.State === 'CREATE_IN_PROGRESS'
          ? 'initialize it (certificateAuthority, or InitializeCluster with its signed certificate), activate it with the CloudHSM CLI (cluster activate), then deploy with activated: true'
          : 'activate it with the CloudHSM CLI (cluster activate) from a host in its VPC, then deploy with activated: true'));
    }
    // One resource per cluster: a new cluster (replaced) makes a new physical
    // resource, and CloudFormation then deletes the old one's HSMs.
    return { PhysicalResourceId: `${props.ClusterId}/hsms` };
  } finally {
    client.destroy();
  }
}
