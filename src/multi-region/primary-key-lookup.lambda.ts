/*
 * The custom-resource handler that tells a replica stack the ARN of its multi-Region
 * primary key, run by the aws-cdk-lib Provider framework. The primary lives in
 * another Region's stack, whose outputs CloudFormation cannot import across Regions.
 *
 * The ARN is read from the primary stack's own output, which only a deployment of that
 * stack writes: not from the primary's alias, which anyone allowed kms:UpdateAlias
 * could point at a multi-Region key of their own, whose replica the set's next Region
 * would then become. The key it names must be the set's kind (spec, usage, origin).
 *
 * - Create: `DescribeStacks` on the primary stack in the primary Region, then
 *   `DescribeKey` on the ARN of its output; the key must be a multi-Region primary of
 *   the set's kind that can be replicated.
 * - Update: the same, and the key must be the one the replica was made from (a new
 *   ARN makes CloudFormation replace the replica key), unless the set's key kind
 *   changed, which replaced the primary: then the replica is made again from the new
 *   primary.
 * - Delete: nothing to undo (the handler only reads).
 *
 * Reading is idempotent, so CloudFormation's retries find what the first attempt did.
 * Each error CloudFormation and KMS document for these calls becomes a message that
 * says what to do.
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html
 * @see https://docs.aws.amazon.com/kms/latest/APIReference/API_DescribeKey.html
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeKeyCommand, KeyMetadata, KMSClient } from '@aws-sdk/client-kms';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { verifyEvent } from '../custom-resources/event-verification';
import { explainAwsError } from '../custom-resources/handler-errors';
import { PRIMARY_KEY_LOOKUP_TYPE } from '../custom-resources/resource-types';

/** The custom resource's properties, as the construct writes them. */
export interface LookupProperties {
  /** The Region of the primary key. */
  readonly PrimaryRegion: string;
  /** The name of the primary key's stack, in the primary Region. */
  readonly PrimaryStackName: string;
  /** The output of that stack that holds the primary key's ARN. */
  readonly OutputName: string;
  /** The account the primary must be in (replicas are never cross-account). */
  readonly Account: string;
  /** The set's key spec, usage and origin, as `SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT/AWS_KMS`: a change replaces the primary. */
  readonly KeyKind: string;
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
  // It only reads, but answers only its own stack: a forged event learns nothing from it.
  await verifyEvent(event, PRIMARY_KEY_LOOKUP_TYPE, 'onEvent');
  if (event.RequestType === 'Delete') {
    return { PhysicalResourceId: event.PhysicalResourceId };
  }
  const props = readProperties(event.ResourceProperties);
  const arn = await primaryArn(props);
  const key = await describe(props, arn);
  // A replica made from another key is kept only while the set's key kind is the same.
  const previous = event.RequestType === 'Update' && event.OldResourceProperties.KeyKind === props.KeyKind
    ? event.PhysicalResourceId : undefined;
  check(props, arn, key, previous);
  return { PhysicalResourceId: key.Arn!, Data: { Arn: key.Arn!, KeyId: key.KeyId! } };
}

function readProperties(raw: Record<string, unknown>): LookupProperties {
  const names = ['PrimaryRegion', 'PrimaryStackName', 'OutputName', 'Account', 'KeyKind'];
  const missing = names.filter(name => typeof raw[name] !== 'string' || raw[name] === '');
  if (missing.length > 0) {
    throw new Error(`The primary key lookup was called without ${missing.join(', ')}: the custom resource was not written by MultiRegionKeySet`);
  }
  return raw as unknown as LookupProperties;
}

/** The primary key's ARN, from its stack's output. */
async function primaryArn(props: LookupProperties): Promise<string> {
  const cloudformation = new CloudFormationClient({ region: props.PrimaryRegion });
  const where = `stack ${props.PrimaryStackName} in ${props.PrimaryRegion}`;
  try {
    const { Stacks: stacks } = await cloudformation.send(new DescribeStacksCommand({ StackName: props.PrimaryStackName }));
    const output = stacks?.[0]?.Outputs?.find(o => o.OutputKey === props.OutputName)?.OutputValue;
    if (output === undefined) {
      throw new Error(`${where} has no output ${props.OutputName}: deploy the primary Region's stack with this version of cdk-kms-constructs first`);
    }
    return output;
  } catch (error) {
    if (error instanceof Error && error.message.startsWith(where)) throw error;
    throw new Error(`Cannot read the primary key's ARN from ${where}: ${explainAwsError(error, STACK_ERRORS)}`);
  } finally {
    cloudformation.destroy();
  }
}

async function describe(props: LookupProperties, arn: string): Promise<KeyMetadata> {
  const kms = new KMSClient({ region: props.PrimaryRegion });
  try {
    const { KeyMetadata: key } = await kms.send(new DescribeKeyCommand({ KeyId: arn }));
    if (!key?.Arn || !key.KeyId) throw new Error(`KMS described ${arn} without an ARN or key ID`);
    return key;
  } catch (error) {
    throw new Error(`Cannot read the primary key ${arn}: ${explainAwsError(error, KEY_ERRORS)}`);
  } finally {
    kms.destroy();
  }
}

const TRANSIENT = 'this is transient, retry the deployment';
/** The errors DescribeStacks documents, as what to do. */
const STACK_ERRORS: Record<string, string> = {
  // CloudFormation answers a stack that does not exist with a ValidationError.
  ValidationError: 'there is no such stack: deploy the primary Region\'s stack first; the replica stacks depend on it',
  AccessDenied: 'the lookup\'s role may not describe it: the role allows cloudformation:DescribeStacks on that stack only; check for a service control policy or permissions boundary that denies it',
  AccessDeniedException: 'the lookup\'s role may not describe it: the role allows cloudformation:DescribeStacks on that stack only; check for a service control policy or permissions boundary that denies it',
  Throttling: `CloudFormation throttled the call; ${TRANSIENT}`,
  ThrottlingException: `CloudFormation throttled the call; ${TRANSIENT}`,
};
/** The errors DescribeKey documents, as what to do. */
const KEY_ERRORS: Record<string, string> = {
  NotFoundException: 'there is no such key: the primary stack\'s output names a key that does not exist',
  AccessDeniedException: 'the lookup\'s role may not describe it: the role allows kms:DescribeKey on keys of the primary Region and account only; check for a service control policy or permissions boundary that denies it',
  InvalidArnException: 'KMS refused the ARN of the primary stack\'s output',
  DependencyTimeoutException: `KMS could not answer; ${TRANSIENT}`,
  KMSInternalException: `KMS could not answer; ${TRANSIENT}`,
  ThrottlingException: `KMS could not answer; ${TRANSIENT}`,
  ServiceUnavailableException: `KMS could not answer; ${TRANSIENT}`,
};

function check(props: LookupProperties, arn: string, key: KeyMetadata, previous: string | undefined): void {
  const where = `The primary key ${arn} of stack ${props.PrimaryStackName}`;
  if (key.Arn !== arn) {
    throw new Error(`${where}: KMS described ${key.Arn} for it; the output must hold the key's ARN`);
  }
  if (key.AWSAccountId !== props.Account) {
    throw new Error(`${where} is in account ${key.AWSAccountId}, not ${props.Account}: replicas are never cross-account`);
  }
  if (!key.MultiRegion) {
    throw new Error(`${where} is not a multi-Region key, so it cannot have replicas`);
  }
  const kind = [key.KeySpec, key.KeyUsage, key.Origin].join('/');
  if (kind !== props.KeyKind) {
    throw new Error(`${where} is a ${kind} key, not the set's ${props.KeyKind}: a replica of it would not be the set's key`);
  }
  // After a failover (UpdatePrimaryRegion) the key in the primary Region is a replica.
  // A replica already made from it stays valid; a new one must come from the new primary.
  if (previous !== undefined && previous === key.Arn) return;
  if (previous !== undefined) {
    throw new Error(`${where} is not ${previous}, which this replica was made from: a new primary would replace the replica key. Deploy the primary stack back, or make a new MultiRegionKeySet for the new key`);
  }
  const type = key.MultiRegionConfiguration?.MultiRegionKeyType;
  if (type !== 'PRIMARY') {
    const primary = key.MultiRegionConfiguration?.PrimaryKey?.Region;
    throw new Error(`${where} is a ${type ?? 'multi-Region'} key whose primary is now in ${primary ?? 'another Region'} (after UpdatePrimaryRegion): set primaryRegion to ${primary ?? 'that Region'}, or promote ${props.PrimaryRegion} back, before adding a replica`);
  }
  if (!REPLICABLE_STATES.includes(key.KeyState ?? '')) {
    const remedy = STATE_REMEDIES[key.KeyState ?? ''] ?? `is ${key.KeyState ?? 'in no state KMS reported'}`;
    throw new Error(`${where} ${remedy}: KMS replicates only an enabled key, or one waiting for its imported material`);
  }
}
