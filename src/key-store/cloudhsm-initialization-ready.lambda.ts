/*
 * The wait of a CloudHsmCluster's initialization (isComplete), run by the aws-cdk-lib
 * Provider framework every 30 seconds. Each call takes the one step the cluster is
 * ready for, so a repeated call does nothing twice:
 *
 * - UNINITIALIZED: once ACM Private CA has issued the cluster's certificate (asked
 *   for by onEvent), calls InitializeCluster with it and the CA's certificate as the
 *   trust anchor;
 * - INITIALIZE_IN_PROGRESS: waits;
 * - initialized: done, with the trust anchor (the CA's certificate) for the
 *   custom key store.
 * It acts only on CloudFormation's events for its own stack's cluster.
 * @see https://docs.aws.amazon.com/cloudhsm/latest/APIReference/API_InitializeCluster.html
 */
import { ACMPCAClient, GetCertificateCommand } from '@aws-sdk/client-acm-pca';
import { CloudHSMV2Client, InitializeClusterCommand } from '@aws-sdk/client-cloudhsm-v2';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import {
  checkStackCluster, describeCluster, explainCloudHsm, InitializationProperties, isInitialized, pollingThrough, readInitializationProperties,
} from './cloudhsm-api';
import { readAuthorityCertificate } from './cluster-certificates';
import { verifyEvent } from '../custom-resources/event-verification';
import { isError } from '../custom-resources/handler-errors';
import { CLUSTER_INITIALIZATION_TYPE } from '../custom-resources/resource-types';

export interface InitializationReadyResponse {
  readonly IsComplete: boolean;
  readonly Data?: { readonly TrustAnchorCertificate: string };
}

/** The longest trust anchor returned, leaving room in CloudFormation's 4,096 bytes for the rest of the response. */
const MAX_TRUST_ANCHOR = 3000;

type WaitEvent = CloudFormationCustomResourceEvent & { readonly Data?: { readonly CertificateArn?: string } };

export async function handler(event: WaitEvent): Promise<InitializationReadyResponse> {
  await verifyEvent(event, CLUSTER_INITIALIZATION_TYPE, 'isComplete');
  if (event.RequestType === 'Delete') return { IsComplete: true };
  const props = readInitializationProperties(event.ResourceProperties);
  await checkStackCluster(event, props.ClusterId, props.ClusterLogicalId);
  const cloudhsm = new CloudHSMV2Client({});
  const pca = new ACMPCAClient({});
  try {
    return await pollingThrough(() => step(cloudhsm, pca, props, event.Data?.CertificateArn));
  } finally {
    cloudhsm.destroy();
    pca.destroy();
  }
}

/** One poll: the step the cluster is ready for. */
async function step(
  cloudhsm: CloudHSMV2Client, pca: ACMPCAClient, props: InitializationProperties, certificateArn: string | undefined,
): Promise<InitializationReadyResponse> {
  const cluster = await describeCluster(cloudhsm, props.ClusterId);
  if (cluster.State === 'INITIALIZE_IN_PROGRESS') return { IsComplete: false };
  const trustAnchor = await readAuthorityCertificate(pca, props.CertificateAuthorityArn);
  if (isInitialized(cluster)) {
    // CloudFormation takes at most 4,096 bytes from a custom resource, Data included.
    if (trustAnchor.length > MAX_TRUST_ANCHOR) {
      throw new Error(`The certificate of certificateAuthority ${props.CertificateAuthorityArn} is ${trustAnchor.length} characters, more than a custom resource can return to CloudFormation (${MAX_TRUST_ANCHOR} here): the cluster is initialized; give the key store that certificate (GetCertificateAuthorityCertificate) as trustAnchorCertificate and drop certificateAuthority`);
    }
    return { IsComplete: true, Data: { TrustAnchorCertificate: trustAnchor } };
  }
  if (cluster.State !== 'UNINITIALIZED') {
    throw new Error(`CloudHSM cluster ${props.ClusterId} became ${cluster.State} while it was being initialized${cluster.StateMessage ? `: ${cluster.StateMessage}` : ''}`);
  }
  if (!certificateArn) {
    throw new Error(`The initialization wait of CloudHSM cluster ${props.ClusterId} was called without the certificate onEvent asked for: the custom resource was not written by CloudHsmCluster`);
  }
  let signed: string | undefined;
  try {
    ({ Certificate: signed } = await pca.send(new GetCertificateCommand({
      CertificateAuthorityArn: props.CertificateAuthorityArn,
      CertificateArn: certificateArn,
    })));
  } catch (error) {
    // ACM Private CA issues within seconds; until then it says so.
    if (isError(error, 'RequestInProgressException')) return { IsComplete: false };
    throw new Error(`Cannot read the certificate ${certificateArn} of CloudHSM cluster ${props.ClusterId}: ${explainCloudHsm(error)}`);
  }
  if (!signed) return { IsComplete: false };
  try {
    await cloudhsm.send(new InitializeClusterCommand({ ClusterId: props.ClusterId, SignedCert: signed, TrustAnchor: trustAnchor }));
  } catch (error) {
    throw new Error(`Cannot initialize CloudHSM cluster ${props.ClusterId}: ${explainCloudHsm(error)}`);
  }
  return { IsComplete: false };
}
