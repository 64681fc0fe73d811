/*
 * The custom-resource handler of a KeyGrant, run by the aws-cdk-lib Provider framework,
 * and by an EventBridge Scheduler schedule when the grant expires. CloudFormation has
 * no grant resource.
 *
 * It acts only on CloudFormation's events for its own stack's grants (event-verification),
 * and only on grants that carry its marker: the grant's name starts with a hash of the
 * stack and logical IDs, which only its Create writes.
 *
 * - Create: `CreateGrant` with a name of the marker, a hash of the request, and the
 *   grant's lifetime in seconds when it expires. A retried create has the same request
 *   and so the same name: KMS returns the first grant instead of making another.
 * - Update: a grant cannot change, so every change makes a new grant (a new physical
 *   ID); CloudFormation then sends a Delete for the old one. A live grant of the resource
 *   with the very properties asked for is taken back instead, by its name: the rollback
 *   of a failed update returns the grant the resource had, and the cleanup revokes the
 *   one the update made.
 * - Delete: `RevokeGrant` of the grant the physical ID names (`<key ARN>|<grant ID>`),
 *   if its name carries the resource's marker; a grant already revoked (or expired) is done.
 * - The rollback of an update whose earlier grant has expired makes none: a failed
 *   deployment does not hand back access that had ended.
 * - Expiry (`{ "expireGrants": { "KeyId": ... } }` from the schedule): revokes every
 *   grant of the key whose name is a KeyGrant's and whose lifetime, written in its name
 *   at creation, has passed since KMS created it. A forged expiry event can do no more
 *   than revoke grants already past their time.
 * - A grantee IAM has not finished propagating (a role made in the same deployment) is
 *   refused by KMS for a short while: CreateGrant is tried again with backoff.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/create-grant-overview.html
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/grant-delete.html
 */
import { createHash } from 'crypto';
import {
  CreateGrantCommand,
  CreateGrantCommandInput,
  GrantListEntry,
  GrantOperation,
  KMSClient,
  ListGrantsCommand,
  RevokeGrantCommand,
} from '@aws-sdk/client-kms';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { ForgedEventError, verifyEvent } from '../custom-resources/event-verification';
import { explainAwsError, isError, whileIamPropagates } from '../custom-resources/handler-errors';
import { KEY_GRANT_TYPE } from '../custom-resources/resource-types';

/** The prefix of every grant name a KeyGrant writes, before its marker. */
export const GRANT_NAME_PREFIX = 'cdk-kms-constructs';
/** `<prefix>-<marker 16>-<request 12>[-e<seconds>]`. */
const GRANT_NAME = /^cdk-kms-constructs-([0-9a-f]{16})-[0-9a-f]{12}(?:-e(\d+))?$/;
/** The physical ID: the key's ARN and the grant's ID, so that a Delete finds the grant's key whatever the properties say. */
const PHYSICAL_ID = /^(arn:[^|]+)\|([0-9a-f]{64})$/;

/** What KMS answers, and what to do about it. */
const REMEDIES: Record<string, string> = {
  NotFoundException: 'The key or the grant does not exist: check the key of the KeyGrant',
  DisabledException: 'The key is disabled: enable it, then retry the deployment',
  KMSInvalidStateException: 'The key cannot take grants in its state (pending deletion, pending import, or unavailable): check its state',
  InvalidArnException: 'KMS does not accept the grantee or retiring principal: it must be an existing IAM role, user or account, or a service principal KMS grants to',
  InvalidGrantTokenException: 'A grant token in the request is not valid',
  InvalidGrantIdException: 'The grant ID is not valid for this key',
  LimitExceededException: 'The key has as many grants as KMS allows (50,000 per key, 500 per grantee with the same constraints): retire grants no longer used',
  DependencyTimeoutException: 'KMS did not answer in time: retry the deployment',
  KMSInternalException: 'KMS failed internally: retry the deployment',
  DryRunOperationException: 'KMS answered a dry run',
  AccessDeniedException: 'The handler may not do this on the key: the key policy allows the KeyGrant handler CreateGrant for its grantee and operations only; '
    + 'an SCP (KeyGuardrails) denies grants that are not for AWS resources to roles it does not exempt',
  ValidationException: 'KMS refused the grant\'s parameters: an operation the key does not support, or an encryption context constraint on an operation that takes none',
};

/** The custom resource's properties, as the construct writes them. */
export interface KeyGrantProperties {
  readonly KeyId: string;
  readonly GranteePrincipal?: string;
  readonly GranteeServicePrincipal?: string;
  readonly RetiringPrincipal?: string;
  readonly RetiringServicePrincipal?: string;
  readonly Operations: string[];
  readonly EncryptionContextSubset?: Record<string, string>;
  readonly EncryptionContextEquals?: Record<string, string>;
  readonly SourceArn?: string;
  /** Seconds, as a string (CloudFormation passes strings). */
  readonly ExpiresAfterSeconds?: string;
}

export interface KeyGrantResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: { readonly GrantId: string; readonly GrantToken: string; readonly GrantName: string };
}

/** What the expiry schedule sends. */
export interface ExpiryEvent {
  readonly expireGrants: { readonly KeyId: string };
}

export interface ExpiryResult {
  readonly revoked: string[];
}

export async function handler(event: CloudFormationCustomResourceEvent | ExpiryEvent): Promise<KeyGrantResponse | ExpiryResult> {
  if ('expireGrants' in event) return expire(event);
  const verified = await verifyEvent(event, KEY_GRANT_TYPE, 'onEvent');
  const marker = markerOf(event.StackId, event.LogicalResourceId);
  const kms = new KMSClient({});
  try {
    switch (event.RequestType) {
      case 'Create':
      case 'Update':
        return await create(kms, readProperties(event.ResourceProperties), marker, event.RequestId, verified.rollingBack);
      case 'Delete': {
        const [, keyId, grantId] = PHYSICAL_ID.exec(event.PhysicalResourceId) ?? [];
        if (grantId === undefined) return { PhysicalResourceId: event.PhysicalResourceId };
        const grant = await findGrant(kms, keyId, grantId);
        if (grant === undefined) return { PhysicalResourceId: event.PhysicalResourceId };
        if (GRANT_NAME.exec(grant.Name ?? '')?.[1] !== marker) {
          throw new ForgedEventError(`Refused a Delete event for ${event.LogicalResourceId}${verified.replaced ? ' (an earlier grant of the resource)' : ''}: `
            + `grant ${grantId} on ${keyId} is named "${grant.Name ?? ''}", not by this resource, so it is not this resource's grant. The KeyGrant handler changed nothing`);
        }
        await revoke(kms, keyId, grantId);
        return { PhysicalResourceId: event.PhysicalResourceId };
      }
    }
  } finally {
    kms.destroy();
  }
}

/** A hash of the stack and logical IDs: the start of every grant name of the resource. */
export function markerOf(stackId: string, logicalId: string): string {
  return createHash('sha256').update(`${stackId}/${logicalId}`).digest('hex').slice(0, 16);
}

function readProperties(raw: Record<string, unknown>): KeyGrantProperties {
  const props = raw as unknown as KeyGrantProperties;
  const missing: string[] = [];
  if (typeof props.KeyId !== 'string' || props.KeyId === '') missing.push('KeyId');
  if (!Array.isArray(props.Operations) || props.Operations.length === 0) missing.push('Operations');
  if (!props.GranteePrincipal === !props.GranteeServicePrincipal) missing.push('GranteePrincipal or GranteeServicePrincipal (one)');
  if (missing.length > 0) {
    throw new Error(`The KeyGrant handler was called without ${missing.join(', ')}: the custom resource was not written by KeyGrant`);
  }
  return props;
}

/**
 * The grant's name: the marker, a hash of this request (a retry of the same request
 * names the same grant, which KMS then returns), and its lifetime when it expires.
 */
function grantName(marker: string, requestId: string, expiresAfterSeconds?: string): string {
  const request = createHash('sha256').update(requestId).digest('hex').slice(0, 12);
  return `${GRANT_NAME_PREFIX}-${marker}-${request}${expiresAfterSeconds ? `-e${Number(expiresAfterSeconds)}` : ''}`;
}

async function create(kms: KMSClient, props: KeyGrantProperties, marker: string, requestId: string, rollingBack: boolean): Promise<KeyGrantResponse> {
  // A grant of this resource with these very parameters is taken back, by its own name
  // (KMS returns it, with a new token): the rollback of an update gets the grant it had.
  const earlier = await sameGrant(kms, props, marker);
  if (!earlier && rollingBack && props.ExpiresAfterSeconds) {
    // The grant the rollback would restore has expired: a failed deployment must not
    // hand the access back. The resource keeps no grant; its Delete has nothing to revoke.
    return { PhysicalResourceId: `expired-${createHash('sha256').update(requestId).digest('hex').slice(0, 12)}`, Data: { GrantId: '', GrantToken: '', GrantName: '' } };
  }
  const name = earlier?.Name ?? grantName(marker, requestId, props.ExpiresAfterSeconds);
  const constraints = {
    ...props.EncryptionContextSubset ? { EncryptionContextSubset: props.EncryptionContextSubset } : {},
    ...props.EncryptionContextEquals ? { EncryptionContextEquals: props.EncryptionContextEquals } : {},
    ...props.SourceArn ? { SourceArn: props.SourceArn } : {},
  };
  const input: CreateGrantCommandInput = {
    KeyId: props.KeyId,
    Name: name,
    Operations: props.Operations as GrantOperation[],
    ...props.GranteePrincipal ? { GranteePrincipal: props.GranteePrincipal } : { GranteeServicePrincipal: props.GranteeServicePrincipal },
    ...props.RetiringPrincipal ? { RetiringPrincipal: props.RetiringPrincipal } : {},
    ...props.RetiringServicePrincipal ? { RetiringServicePrincipal: props.RetiringServicePrincipal } : {},
    ...Object.keys(constraints).length > 0 ? { Constraints: constraints } : {},
  };
  const grantee = props.GranteePrincipal ?? props.GranteeServicePrincipal;
  try {
    const { GrantId: grantId, GrantToken: grantToken } = await whileIamPropagates('InvalidArnException', 'KMS refused the grantee; a role made in this deployment may still be propagating in IAM', () => kms.send(new CreateGrantCommand(input)));
    return { PhysicalResourceId: `${props.KeyId}|${grantId}`, Data: { GrantId: grantId!, GrantToken: grantToken!, GrantName: name } };
  } catch (error) {
    throw new Error(`Cannot create a grant of ${props.Operations.join(', ')} on ${props.KeyId} for ${grantee}: ${explainAwsError(error, REMEDIES)}`);
  }
}

/** A live grant of this resource on the key whose grantee, operations, constraints and lifetime are the properties'. */
async function sameGrant(kms: KMSClient, props: KeyGrantProperties, marker: string): Promise<GrantListEntry | undefined> {
  // Every parameter of CreateGrant but the name: KMS returns a grant by its name only for identical ones.
  const wanted = JSON.stringify({
    grantee: props.GranteePrincipal,
    granteeService: props.GranteeServicePrincipal,
    retiring: props.RetiringPrincipal,
    retiringService: props.RetiringServicePrincipal,
    operations: [...props.Operations].sort(),
    subset: sorted(props.EncryptionContextSubset),
    equals: sorted(props.EncryptionContextEquals),
    source: props.SourceArn,
    lifetime: props.ExpiresAfterSeconds ? String(Number(props.ExpiresAfterSeconds)) : undefined,
  });
  let next: string | undefined;
  do {
    let page;
    try {
      page = await kms.send(new ListGrantsCommand({ KeyId: props.KeyId, Marker: next, Limit: 100 }));
    } catch (error) {
      throw new Error(`Cannot list the grants of ${props.KeyId}: ${explainAwsError(error, REMEDIES)}`);
    }
    for (const grant of page.Grants ?? []) {
      const name = GRANT_NAME.exec(grant.Name ?? '');
      if (name?.[1] !== marker) continue;
      const found = JSON.stringify({
        grantee: grant.GranteePrincipal,
        granteeService: grant.GranteeServicePrincipal,
        retiring: grant.RetiringPrincipal,
        retiringService: grant.RetiringServicePrincipal,
        operations: [...grant.Operations ?? []].sort(),
        subset: sorted(grant.Constraints?.EncryptionContextSubset),
        equals: sorted(grant.Constraints?.EncryptionContextEquals),
        source: grant.Constraints?.SourceArn,
        lifetime: name[2],
      });
      if (found === wanted) return grant;
    }
    next = page.Truncated ? page.NextMarker : undefined;
  } while (next);
  return undefined;
}

/** A map with its keys in order, for comparison. */
function sorted(map?: Record<string, string>): Array<[string, string]> | undefined {
  return map && Object.entries(map).sort(([a], [b]) => a.localeCompare(b));
}

/** The grant of this ID on the key, or undefined when it is gone (revoked, retired, or its key deleted). */
async function findGrant(kms: KMSClient, keyId: string, grantId: string): Promise<GrantListEntry | undefined> {
  try {
    const { Grants: grants } = await kms.send(new ListGrantsCommand({ KeyId: keyId, GrantId: grantId }));
    return grants?.find(g => g.GrantId === grantId);
  } catch (error) {
    if (isError(error, 'NotFoundException') || isError(error, 'InvalidGrantIdException')) return undefined;
    throw new Error(`Cannot read grant ${grantId} on ${keyId}: ${explainAwsError(error, REMEDIES)}`);
  }
}

async function revoke(kms: KMSClient, keyId: string, grantId: string): Promise<void> {
  try {
    await kms.send(new RevokeGrantCommand({ KeyId: keyId, GrantId: grantId }));
  } catch (error) {
    // Revoked by the expiry, retired by its retiring principal, or its key deleted: done.
    if (isError(error, 'NotFoundException') || isError(error, 'InvalidGrantIdException')) return;
    throw new Error(`Cannot revoke grant ${grantId} on ${keyId}: ${explainAwsError(error, REMEDIES)}`);
  }
}

/** Revokes the key's KeyGrant grants whose lifetime has passed. */
async function expire(event: ExpiryEvent): Promise<ExpiryResult> {
  const keyId = event.expireGrants?.KeyId;
  if (typeof keyId !== 'string' || keyId === '') throw new Error('The KeyGrant expiry was called without expireGrants.KeyId');
  const kms = new KMSClient({});
  const revoked: string[] = [];
  try {
    let marker: string | undefined;
    do {
      let page;
      try {
        page = await kms.send(new ListGrantsCommand({ KeyId: keyId, Marker: marker, Limit: 100 }));
      } catch (error) {
        throw new Error(`Cannot list the grants of ${keyId} to expire them: ${explainAwsError(error, REMEDIES)}`);
      }
      for (const grant of page.Grants ?? []) {
        const lifetime = GRANT_NAME.exec(grant.Name ?? '')?.[2];
        if (lifetime === undefined || grant.CreationDate === undefined) continue;
        if (new Date(grant.CreationDate).getTime() + Number(lifetime) * 1000 > Date.now()) continue;
        await revoke(kms, keyId, grant.GrantId!);
        revoked.push(grant.GrantId!);
      }
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
  } finally {
    kms.destroy();
  }
  if (revoked.length > 0) console.log(JSON.stringify({ message: 'revoked expired grants', keyId, grantIds: revoked }));
  return { revoked };
}
