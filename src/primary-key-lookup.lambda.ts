/*
 * The custom-resource handler that tells a replica stack the ARN of its multi-Region
 * primary key, run by the aws-cdk-lib Provider framework. The primary lives in
 * another Region's stack, whose outputs CloudFormation cannot import across Regions;
 * its alias is known at synthesis and names the key in the primary Region.
 *
 * - Create: `DescribeKey` on the alias in the primary Region; the key must be a
 *   multi-Region primary that can be replicated.
 * - Update: the same, and the key must be the one the replica was made from (a new
 *   ARN makes CloudFormation replace the replica key), unless the set's key kind
 *   (spec, usage, origin) changed, which replaced the primary: then the replica is
 *   made again from the new primary.
 * - Delete: nothing to undo (the handler only reads).
 *
 * Reading is idempotent, so CloudFormation's retries find what the first attempt did.
 * Each error KMS documents for DescribeKey becomes a message that says what to do.
 * @see https://docs.aws.amazon.com/kms/latest/APIReference/API_DescribeKey.html
 */
import { DescribeKeyCommand, KeyMetadata, KMSClient } from '@aws-sdk/client-kms';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { explainAwsError } from './private/handler-errors';

/** The custom resource's properties, as the construct writes them. */
export interface LookupProperties {
  /** The Region of the primary key. */
  readonly PrimaryRegion: string;
  /** The primary key's alias in its Region, `alias/...`. */
  readonly AliasName: string;
  /** The account the primary must be in (replicas are never cross-account). */
  readonly Account: string;
  /** The set's key spec, usage and origin: a change replaces the primary. */
  readonly KeyKind?: string;
}

/** What the Provider framework sends back to CloudFormation. */
export interface LookupResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: { readonly Arn: string; readonly KeyId: string };
}

/**
 * The key states in which KMS replicates a key: enabled, or waiting for its imported
 * material. Every other state, with what to do about it.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html
 */
const REPLICABLE_STATES = ['Enabled', 'PendingImport'];
const STATE_REMEDIES: Record<string, string> = {
  Disabled: 'is disabled (enable it with EnableKey)',
  PendingDeletion: 'is scheduled for deletion (cancel it with CancelKeyDeletion)',
  PendingReplicaDeletion: 'is waiting for its replicas to be deleted before its own deletion (cancel it with CancelKeyDeletion)',
  Creating: 'is still being created; retry the deployment',
  Updating: 'is being updated (a primary Region change is in progress); retry the deployment when it is done',
};

export async function handler(event: CloudFormationCustomResourceEvent): Promise<LookupResponse> {
  if (event.RequestType === 'Delete') {
    return { PhysicalResourceId: event.PhysicalResourceId };
  }
  const props = readProperties(event.ResourceProperties);
  const key = await describe(props);
  // A replica made from another key is kept only while the set's key kind is the same.
  const previous = event.RequestType === 'Update' && event.OldResourceProperties.KeyKind === props.KeyKind
    ? event.PhysicalResourceId : undefined;
  check(props, key, previous);
  return { PhysicalResourceId: key.Arn!, Data: { Arn: key.Arn!, KeyId: key.KeyId! } };
}

function readProperties(raw: Record<string, unknown>): LookupProperties {
  const missing = ['PrimaryRegion', 'AliasName', 'Account'].filter(name => typeof raw[name] !== 'string' || raw[name] === '');
  if (missing.length > 0) {
    throw new Error(`The primary key lookup was called without ${missing.join(', ')}: the custom resource was not written by MultiRegionKeySet`);
  }
  return raw as unknown as LookupProperties;
}

async function describe(props: LookupProperties): Promise<KeyMetadata> {
  const kms = new KMSClient({ region: props.PrimaryRegion });
  const where = `alias ${props.AliasName} in ${props.PrimaryRegion}`;
  try {
    const { KeyMetadata: key } = await kms.send(new DescribeKeyCommand({ KeyId: props.AliasName }));
    if (!key?.Arn || !key.KeyId) throw new Error(`KMS described ${where} without an ARN or key ID`);
    return key;
  } catch (error) {
    throw new Error(`Cannot read the primary key of ${where}: ${explainAwsError(error, LOOKUP_ERRORS)}`);
  } finally {
    kms.destroy();
  }
}

/** The errors DescribeKey documents, as what to do. */
const TRANSIENT = 'KMS could not answer; this is transient, retry the deployment';
const LOOKUP_ERRORS: Record<string, string> = {
  NotFoundException: 'there is no such alias: deploy the primary Region\'s stack first; the replica stacks depend on it',
  AccessDeniedException: 'the lookup\'s role may not describe it: the role allows kms:DescribeKey only through this alias; check for a service control policy or permissions boundary that denies it',
  InvalidArnException: 'KMS refused the alias name',
  DependencyTimeoutException: TRANSIENT,
  KMSInternalException: TRANSIENT,
  ThrottlingException: TRANSIENT,
  ServiceUnavailableException: TRANSIENT,
};

function check(props: LookupProperties, key: KeyMetadata, previous: string | undefined): void {
  const where = `alias ${props.AliasName} in ${props.PrimaryRegion}`;
  if (key.AWSAccountId !== props.Account) {
    throw new Error(`The key of ${where} is in account ${key.AWSAccountId}, not ${props.Account}: replicas are never cross-account`);
  }
  if (!key.MultiRegion) {
    throw new Error(`The key of ${where} (${key.Arn}) is not a multi-Region key, so it cannot have replicas: the alias must name the set's primary key`);
  }
  // After a failover (UpdatePrimaryRegion) the key in the primary Region is a replica.
  // A replica already made from it stays valid; a new one must come from the new primary.
  if (previous !== undefined && previous === key.Arn) return;
  if (previous !== undefined) {
    throw new Error(`The ${where} now names ${key.Arn}, but this replica was made from ${previous}: a new primary would replace the replica key. Point the alias back at ${previous}, or make a new MultiRegionKeySet for the new key`);
  }
  const type = key.MultiRegionConfiguration?.MultiRegionKeyType;
  if (type !== 'PRIMARY') {
    const primary = key.MultiRegionConfiguration?.PrimaryKey?.Region;
    throw new Error(`The key of ${where} (${key.Arn}) is a ${type ?? 'multi-Region'} key whose primary is now in ${primary ?? 'another Region'} (after UpdatePrimaryRegion): set primaryRegion to ${primary ?? 'that Region'}, or promote ${props.PrimaryRegion} back, before adding a replica`);
  }
  if (!REPLICABLE_STATES.includes(key.KeyState ?? '')) {
    const remedy = STATE_REMEDIES[key.KeyState ?? ''] ?? `is ${key.KeyState ?? 'in no state KMS reported'}`;
    throw new Error(`The key of ${where} (${key.Arn}) ${remedy}: KMS replicates only an enabled key, or one waiting for its imported material`);
  }
}
