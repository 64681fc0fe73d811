/*
 * What the CloudHsmCluster handlers share: reading a cluster, deciding how many HSMs
 * it should have and where, and CloudHSM's errors as what to do. On the AWS SDK v3
 * client of the Lambda runtime (not bundled).
 * @see https://docs.aws.amazon.com/cloudhsm/latest/APIReference/API_DescribeClusters.html
 */
import { CloudHSMV2Client, Cluster, DescribeClustersCommand, Hsm } from '@aws-sdk/client-cloudhsm-v2';
import { checkStackResource, StackEvent } from '../custom-resources/event-verification';
import { explainAwsError } from '../custom-resources/handler-errors';

/** The properties of the HSMs custom resource, as CloudHsmCluster writes them. */
export interface HsmsProperties {
  readonly ClusterId: string;
  /** How many HSMs the cluster has once activated, as a string (CloudFormation's). */
  readonly HsmCount: string;
  /** 'true' once the user says the cluster was activated. */
  readonly Activated: string;
  /** The logical ID of the cluster in the stack, by which the handlers check that the cluster is the stack's. */
  readonly ClusterLogicalId?: string;
}

/** Reads and checks the HSMs custom resource's properties. */
export function readHsmsProperties(raw: Record<string, unknown>): HsmsProperties & { count: number; activated: boolean } {
  const clusterId = raw.ClusterId;
  const count = Number(raw.HsmCount);
  if (typeof clusterId !== 'string' || clusterId === '' || !Number.isInteger(count) || count < 1) {
    throw new Error('The HSMs handler was called without ClusterId or HsmCount: the custom resource was not written by CloudHsmCluster');
  }
  return { ...(raw as unknown as HsmsProperties), count, activated: String(raw.Activated) === 'true' };
}

/** An error a wait meets that the next poll may not: throttling, or CloudHSM failing internally. */
export class TransientError extends Error {}

const TRANSIENT = new Set(['ThrottlingException', 'CloudHsmInternalFailureException', 'CloudHsmServiceException']);

/** The cluster with this ID, or undefined when the account and Region have none. */
export async function findCluster(client: CloudHSMV2Client, clusterId: string): Promise<Cluster | undefined> {
  try {
    const { Clusters: clusters } = await client.send(new DescribeClustersCommand({ Filters: { clusterIds: [clusterId] } }));
    return clusters?.find(c => c.ClusterId === clusterId);
  } catch (error) {
    const message = `Cannot describe CloudHSM cluster ${clusterId}: ${explainCloudHsm(error)}`;
    throw TRANSIENT.has((error as { name?: string }).name ?? '') ? new TransientError(message) : new Error(message);
  }
}

/**
 * A wait's step, where a transient error only means "not done yet": the next poll
 * tries again, and the Provider framework's timeout still bounds the whole wait.
 */
export async function pollingThrough<T extends { IsComplete: boolean }>(step: () => Promise<T>): Promise<T | { IsComplete: false }> {
  try {
    return await step();
  } catch (error) {
    if (!(error instanceof TransientError)) throw error;
    console.log(JSON.stringify({ level: 'WARN', message: `${error.message}; asking again at the next poll` }));
    return { IsComplete: false };
  }
}

/** The cluster with this ID, or an error saying it does not exist. */
export async function describeCluster(client: CloudHSMV2Client, clusterId: string): Promise<Cluster> {
  const cluster = await findCluster(client, clusterId);
  if (!cluster) throw new Error(`CloudHSM cluster ${clusterId} does not exist in this account and Region`);
  return cluster;
}

/**
 * Cluster states after activation: only then does CloudHSM take a second HSM (an
 * uninitialized cluster takes one, the one whose CSR is signed to initialize it).
 * @see https://docs.aws.amazon.com/cloudhsm/latest/userguide/add-hsm.html
 */
const ACTIVATED = new Set(['ACTIVE', 'DEGRADED', 'UPDATE_IN_PROGRESS', 'MODIFY_IN_PROGRESS']);

/** Whether the cluster was activated. */
export function isActivated(cluster: Cluster): boolean {
  return ACTIVATED.has(cluster.State ?? '');
}

/** Cluster states that are on their way somewhere: nothing is created or deleted meanwhile. */
const CHANGING = new Set(['CREATE_IN_PROGRESS', 'INITIALIZE_IN_PROGRESS', 'UPDATE_IN_PROGRESS', 'MODIFY_IN_PROGRESS', 'ROLLBACK_IN_PROGRESS']);

/** Whether the cluster is changing state, so that the handlers wait. */
export function isChanging(cluster: Cluster): boolean {
  return CHANGING.has(cluster.State ?? '');
}

/** The cluster's HSMs that are not being deleted. */
export function liveHsms(cluster: Cluster): Hsm[] {
  return (cluster.Hsms ?? []).filter(hsm => hsm.State !== 'DELETE_IN_PROGRESS' && hsm.State !== 'DELETED');
}

/** How many HSMs the cluster should have now: all once activated, otherwise the first. */
export function targetHsms(cluster: Cluster, count: number): number {
  return isActivated(cluster) ? count : 1;
}

/** The cluster's Availability Zones, from its subnets (one per zone), in name order. */
export function clusterZones(cluster: Cluster): string[] {
  return Object.keys(cluster.SubnetMapping ?? {}).sort();
}

/**
 * Where to put `n` more HSMs: each in the zone that then has the fewest, ties broken
 * by zone name, so that the HSMs spread evenly over the cluster's zones.
 */
export function zonesForNewHsms(zones: string[], hsms: Hsm[], n: number): string[] {
  if (zones.length === 0) throw new Error('The cluster has no subnets, so no Availability Zone for an HSM');
  const counts = new Map(zones.map(zone => [zone, 0]));
  for (const hsm of hsms) {
    if (hsm.AvailabilityZone && counts.has(hsm.AvailabilityZone)) counts.set(hsm.AvailabilityZone, counts.get(hsm.AvailabilityZone)! + 1);
  }
  const chosen: string[] = [];
  for (let i = 0; i < n; i++) {
    const zone = [...counts.entries()].sort(([a, x], [b, y]) => x - y || a.localeCompare(b))[0][0];
    chosen.push(zone);
    counts.set(zone, counts.get(zone)! + 1);
  }
  return chosen;
}

/**
 * Which `n` HSMs to remove: each from the zone that then has the most, so that those
 * left stay spread; in a zone, the newest ID last made is kept last (IDs sort).
 */
export function hsmsToRemove(hsms: Hsm[], n: number): Hsm[] {
  const byZone = new Map<string, Hsm[]>();
  for (const hsm of [...hsms].sort((a, b) => (a.HsmId ?? '').localeCompare(b.HsmId ?? ''))) {
    const zone = hsm.AvailabilityZone ?? '';
    byZone.set(zone, [...byZone.get(zone) ?? [], hsm]);
  }
  const chosen: Hsm[] = [];
  for (let i = 0; i < n; i++) {
    const [, inZone] = [...byZone.entries()].filter(([, list]) => list.length > 0)
      .sort(([a, x], [b, y]) => y.length - x.length || a.localeCompare(b))[0];
    chosen.push(inZone.pop()!);
  }
  return chosen;
}

/** The cluster's HSMs as `hsm-x (zone, STATE)`, for messages. */
export function describeHsms(hsms: Hsm[]): string {
  return hsms.length === 0 ? 'none' : hsms.map(hsm => `${hsm.HsmId} (${hsm.AvailabilityZone}, ${hsm.State})`).join(', ');
}

/**
 * CloudHSM's and ACM Private CA's errors, as what to do.
 * @see https://docs.aws.amazon.com/cloudhsm/latest/APIReference/CommonErrors.html
 */
const REMEDIES: Record<string, string> = {
  CloudHsmAccessDeniedException: 'CloudHSM refused the request: the handler\'s role, a service control policy or a permissions boundary does not allow it',
  CloudHsmInternalFailureException: 'CloudHSM failed internally; this is transient, retry the deployment',
  CloudHsmInvalidRequestException: 'CloudHSM refused the request as invalid for the cluster\'s state or configuration',
  CloudHsmResourceNotFoundException: 'the cluster (or HSM) does not exist in this account and Region',
  CloudHsmServiceException: 'CloudHSM failed; this is usually transient, retry the deployment',
  CloudHsmResourceLimitExceededException: 'a CloudHSM quota is reached (HSMs per cluster or per account and Region): ask for an increase in Service Quotas or lower hsmsPerCluster',
  CloudHsmTagException: 'CloudHSM refused the cluster\'s tags',
  ThrottlingException: 'the request was throttled; retry the deployment',
  AccessDeniedException: 'the handler\'s role may not make this call; check for a service control policy or permissions boundary that denies it',
  InvalidArnException: 'certificateAuthority is not the ARN of a private CA',
  ResourceNotFoundException: 'the certificate authority does not exist in this account and Region',
  InvalidStateException: 'the certificate authority is not ACTIVE (a CA must be installed with its certificate, and not disabled, to issue certificates)',
  MalformedCSRException: 'ACM Private CA refused the cluster\'s certificate signing request',
  LimitExceededException: 'an ACM Private CA quota is reached (certificates issued by the CA)',
  RequestFailedException: 'ACM Private CA failed to issue the cluster\'s certificate',
  InvalidArgsException: 'ACM Private CA refused the request\'s arguments (the validity may exceed the CA\'s own)',
};

/** A CloudHSM or ACM Private CA error as what to do. */
export function explainCloudHsm(error: unknown): string {
  return explainAwsError(error, REMEDIES);
}

/** The properties of the initialization custom resource, as CloudHsmCluster writes them. */
export interface InitializationProperties {
  readonly ClusterId: string;
  readonly CertificateAuthorityArn: string;
  /** How long the cluster's certificate is valid, in days, as a string. */
  readonly ValidityDays: string;
  /** The logical ID of the cluster in the stack. */
  readonly ClusterLogicalId?: string;
}

/** Reads and checks the initialization custom resource's properties. */
export function readInitializationProperties(raw: Record<string, unknown>): InitializationProperties & { validityDays: number } {
  const validityDays = Number(raw.ValidityDays);
  const missing = ['ClusterId', 'CertificateAuthorityArn'].filter(name => typeof raw[name] !== 'string' || raw[name] === '');
  if (missing.length > 0 || !Number.isInteger(validityDays) || validityDays < 1) {
    throw new Error('The cluster initialization handler was called without ClusterId, CertificateAuthorityArn or ValidityDays: the custom resource was not written by CloudHsmCluster');
  }
  return { ...(raw as unknown as InitializationProperties), validityDays };
}

/** Cluster states that come only after InitializeCluster was called: it is never called twice. */
const INITIALIZED = new Set(['INITIALIZE_IN_PROGRESS', 'INITIALIZED', 'ACTIVE']);

/**
 * Whether the cluster was initialized (or is being). A cluster in another state
 * (DEGRADED, UPDATE_IN_PROGRESS, MODIFY_IN_PROGRESS) may be either: it was if it has
 * its signed certificate.
 */
export function isInitialized(cluster: Cluster): boolean {
  if (INITIALIZED.has(cluster.State ?? '')) return true;
  return ACTIVATED.has(cluster.State ?? '') && Boolean(cluster.Certificates?.ClusterCertificate);
}

/**
 * Fails unless the cluster a Create or Update names is the stack's own (its
 * `ClusterLogicalId`, with that physical ID): a forged event cannot point the handlers
 * at another cluster of the account.
 */
export async function checkStackCluster(event: StackEvent, clusterId: string, clusterLogicalId: string | undefined): Promise<void> {
  await checkStackResource(event, 'CloudHSM cluster', clusterLogicalId, 'AWS::CloudHSM::Cluster', clusterId);
}

/**
 * The cluster whose HSMs a Delete removes: the one its physical ID names (which
 * CloudFormation's record vouches for), never one of the event's properties.
 */
export function clusterOfHsms(physicalId: string): string {
  const clusterId = /^(cluster-[a-z0-9]+)\/hsms$/.exec(physicalId)?.[1];
  if (!clusterId) throw new Error(`The HSMs handler was sent the physical ID ${physicalId}, which is not a cluster's HSMs: the custom resource was not written by CloudHsmCluster`);
  return clusterId;
}
