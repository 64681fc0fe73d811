/*
 * The custom-resource handler of a ClassifiedKey in a CloudHSM custom key store
 * (CustomKeyStore.addKey), run by the aws-cdk-lib Provider framework. CloudFormation's
 * AWS::KMS::Key cannot make one (it has no custom key store and refuses the
 * AWS_CLOUDHSM origin).
 *
 * It acts only on CloudFormation's events for its own stack's keys (event-verification),
 * and only on keys that carry its marker: a tag naming the custom resource (a hash of
 * the stack and logical IDs) that only its Create writes.
 *
 * - Create: `CreateKey` with `Origin: AWS_CLOUDHSM` in the store, with the key policy,
 *   description and tags, the marker, and a tag naming the store. A retried create
 *   finds the key the first attempt made by the marker, through the Resource Groups
 *   Tagging API (a bounded look through the account's keys if that API cannot be read).
 * - Update: the key policy, description and tags are kept in sync; a new store makes
 *   a new key (CloudFormation then keeps or deletes the old one by its policies).
 * - Delete (only with RemovalPolicy.DESTROY): `ScheduleKeyDeletion` with the pending
 *   window; a key already gone or pending deletion is done.
 * - A key policy that names a role IAM has not finished propagating is refused by KMS
 *   (MalformedPolicyDocumentException) for a short while: CreateKey and PutKeyPolicy
 *   are tried again with backoff, within the function's timeout.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/create-cmk-keystore.html
 */
import { createHash } from 'crypto';
import {
  CreateKeyCommand,
  CreateKeyCommandInput,
  DescribeKeyCommand,
  KMSClient,
  PutKeyPolicyCommand,
  ScheduleKeyDeletionCommand,
  Tag,
  TagResourceCommand,
  UntagResourceCommand,
  ListResourceTagsCommand,
  UpdateKeyDescriptionCommand,
} from '@aws-sdk/client-kms';
import { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { keysTagged, RESOURCE_TAG, scanStoreKeys, STORE_TAG } from './key-store-api';
import { explain } from './key-store-errors';
import { ForgedEventError, verifyEvent } from '../custom-resources/event-verification';
import { isError, whileIamPropagates } from '../custom-resources/handler-errors';
import { HSM_KEY_TYPE } from '../custom-resources/resource-types';

export { RESOURCE_TAG };

/** How long a create looks through the account's keys when the Tagging API cannot be read. */
const SCAN_BUDGET_MS = 120 * 1000;
/**
 * A key policy naming a role IAM has not finished propagating is refused by KMS with
 * MalformedPolicyDocumentException: CreateKey and PutKeyPolicy are tried again.
 */
const POLICY_REFUSED = 'MalformedPolicyDocumentException';
const IAM_PROPAGATION = 'KMS refused the key policy; a role it names may still be propagating in IAM';

/** The custom resource's properties, as the construct writes them. */
export interface HsmKeyProperties {
  readonly CustomKeyStoreId: string;
  readonly Description: string;
  readonly KeyPolicy: unknown;
  readonly PendingWindowInDays: string;
  readonly Tags?: Array<{ Key: string; Value: string }>;
}

export interface HsmKeyResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: { readonly Arn: string; readonly KeyId: string };
}

export async function handler(event: CloudFormationCustomResourceEvent): Promise<HsmKeyResponse> {
  const verified = await verifyEvent(event, HSM_KEY_TYPE, 'onEvent');
  const kms = new KMSClient({});
  const tagging = new ResourceGroupsTaggingAPIClient({});
  // A tag value holds 256 characters at most: the stack ID and logical ID, hashed.
  const marker = createHash('sha256').update(`${event.StackId}/${event.LogicalResourceId}`).digest('hex');
  try {
    switch (event.RequestType) {
      case 'Create':
        return await create(kms, tagging, readProperties(event.ResourceProperties), marker);
      case 'Update': {
        const old = readProperties(event.OldResourceProperties);
        const props = readProperties(event.ResourceProperties);
        if (old.CustomKeyStoreId !== props.CustomKeyStoreId) return await create(kms, tagging, props, marker);
        await checkMarker(kms, event.PhysicalResourceId, marker, event);
        return await update(kms, event.PhysicalResourceId, old, props);
      }
      case 'Delete':
        if (!KEY_ID.test(event.PhysicalResourceId)) return { PhysicalResourceId: event.PhysicalResourceId };
        // A key of an earlier physical ID (replaced) must be this resource's as much as the current one.
        if (!(await checkMarker(kms, event.PhysicalResourceId, marker, event, verified.replaced))) {
          return { PhysicalResourceId: event.PhysicalResourceId };
        }
        return await remove(kms, event.PhysicalResourceId, readProperties(event.ResourceProperties));
    }
  } finally {
    kms.destroy();
    tagging.destroy();
  }
}

const KEY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Fails unless the key carries this resource's marker, which only its Create writes:
 * an event for a key the resource did not make changes nothing. False when the key is
 * already gone (nothing left to do).
 */
async function checkMarker(
  kms: KMSClient, keyId: string, marker: string, event: CloudFormationCustomResourceEvent, replaced = false,
): Promise<boolean> {
  let tags;
  try {
    ({ Tags: tags } = await kms.send(new ListResourceTagsCommand({ KeyId: keyId })));
  } catch (error) {
    if (isError(error, 'NotFoundException')) return false;
    throw new Error(`Cannot read the tags of key ${keyId}: ${explain(error)}`);
  }
  const found = tags?.find(t => t.TagKey === RESOURCE_TAG)?.TagValue;
  if (found !== marker) {
    throw new ForgedEventError(`Refused a ${event.RequestType} event for ${event.LogicalResourceId}${replaced ? ' (an earlier key of the resource)' : ''}: `
      + `key ${keyId} ${found ? 'was made by another custom resource' : `has no ${RESOURCE_TAG} tag`}, so it is not this resource's key. The HSM key handler changed nothing`);
  }
  return true;
}

function readProperties(raw: Record<string, unknown>): HsmKeyProperties {
  const missing = ['CustomKeyStoreId', 'Description', 'PendingWindowInDays'].filter(name => typeof raw[name] !== 'string' || raw[name] === '');
  if (typeof raw.KeyPolicy !== 'object' || raw.KeyPolicy === null) missing.push('KeyPolicy');
  if (missing.length > 0) {
    throw new Error(`The HSM key handler was called without ${missing.join(', ')}: the custom resource was not written by CustomKeyStore.addKey`);
  }
  return raw as unknown as HsmKeyProperties;
}

function arnAnswer(arn: string, keyId: string): HsmKeyResponse {
  return { PhysicalResourceId: keyId, Data: { Arn: arn, KeyId: keyId } };
}

async function create(kms: KMSClient, tagging: ResourceGroupsTaggingAPIClient, props: HsmKeyProperties, marker: string): Promise<HsmKeyResponse> {
  const store = props.CustomKeyStoreId;
  // A retried create: the key the first attempt made is in the store, tagged with us.
  const made = await madeEarlier(kms, tagging, store, marker);
  if (made) return update(kms, made, undefined, props);
  const input: CreateKeyCommandInput = {
    Origin: 'AWS_CLOUDHSM',
    CustomKeyStoreId: store,
    KeySpec: 'SYMMETRIC_DEFAULT',
    KeyUsage: 'ENCRYPT_DECRYPT',
    Description: props.Description,
    Policy: JSON.stringify(props.KeyPolicy),
    Tags: [...kmsTags(props.Tags), { TagKey: RESOURCE_TAG, TagValue: marker }, { TagKey: STORE_TAG, TagValue: store }],
  };
  try {
    const { KeyMetadata: key } = await whileIamPropagates(POLICY_REFUSED, IAM_PROPAGATION, () => kms.send(new CreateKeyCommand(input)));
    return arnAnswer(key!.Arn!, key!.KeyId!);
  } catch (error) {
    throw new Error(`Cannot create a key in custom key store ${store}: ${explain(error)}`);
  }
}

/**
 * The key an earlier attempt of this resource made in the store, if any: by its marker
 * through the Tagging API (a few calls whatever the account holds), else by a bounded
 * look through the account's keys. A key pending deletion is not taken back.
 */
async function madeEarlier(kms: KMSClient, tagging: ResourceGroupsTaggingAPIClient, store: string, marker: string): Promise<string | undefined> {
  const tagged = await keysTagged(tagging, RESOURCE_TAG, marker);
  if (tagged === undefined) {
    const scan = await scanStoreKeys(kms, store, {
      budgetMs: SCAN_BUDGET_MS, firstOnly: true, match: tags => tags.some(t => t.TagKey === RESOURCE_TAG && t.TagValue === marker),
    });
    if (!scan.complete) {
      throw new Error(`Cannot tell whether an earlier attempt made this key: the Resource Groups Tagging API cannot be read, and the account has more keys than the handler could look through in ${SCAN_BUDGET_MS / 1000} s. Allow tag:GetResources, and retry the deployment`);
    }
    return scan.keyIds[0];
  }
  for (const keyId of tagged) {
    try {
      const { KeyMetadata: key } = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
      if (key?.CustomKeyStoreId === store && key.KeyState !== 'PendingDeletion') return keyId;
    } catch (error) {
      // The Tagging API can name a key deleted moments ago.
      if (isError(error, 'NotFoundException')) continue;
      throw new Error(`Cannot describe key ${keyId}: ${explain(error)}`);
    }
  }
  return undefined;
}

async function update(kms: KMSClient, keyId: string, old: HsmKeyProperties | undefined, props: HsmKeyProperties): Promise<HsmKeyResponse> {
  const call = async (what: string, send: () => Promise<unknown>) => {
    try {
      await send();
    } catch (error) {
      throw new Error(`Cannot ${what} of key ${keyId}: ${explain(error)}`);
    }
  };
  if (!old || JSON.stringify(old.KeyPolicy) !== JSON.stringify(props.KeyPolicy)) {
    await call('update the key policy', () => whileIamPropagates(POLICY_REFUSED, IAM_PROPAGATION, () => kms.send(new PutKeyPolicyCommand({
      KeyId: keyId, PolicyName: 'default', Policy: JSON.stringify(props.KeyPolicy),
    }))));
  }
  if (!old || old.Description !== props.Description) {
    await call('update the description', () => kms.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: props.Description })));
  }
  const wanted = kmsTags(props.Tags);
  // Keys made before the store's tag was written get it now.
  const storeTag = { TagKey: STORE_TAG, TagValue: props.CustomKeyStoreId };
  const removed = kmsTags(old?.Tags).filter(t => !wanted.some(w => w.TagKey === t.TagKey)).map(t => t.TagKey!);
  if (removed.length > 0) {
    await call('remove tags', () => kms.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: removed })));
  }
  if (!old || JSON.stringify(kmsTags(old.Tags)) !== JSON.stringify(wanted)) {
    await call('tag', () => kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [...wanted, storeTag] })));
  }
  try {
    const { KeyMetadata: key } = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    return arnAnswer(key!.Arn!, keyId);
  } catch (error) {
    throw new Error(`Cannot describe key ${keyId}: ${explain(error)}`);
  }
}

async function remove(kms: KMSClient, keyId: string, props: HsmKeyProperties): Promise<HsmKeyResponse> {
  try {
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: Number(props.PendingWindowInDays) }));
  } catch (error) {
    // Gone, or already pending deletion: what was asked for is done.
    if (isError(error, 'NotFoundException') || isError(error, 'KMSInvalidStateException')) return { PhysicalResourceId: keyId };
    throw new Error(`Cannot schedule the deletion of key ${keyId}: ${explain(error)}`);
  }
  return { PhysicalResourceId: keyId };
}

/** The key's tags as KMS takes them; the library's own tags (the marker) are the handler's alone to write. */
function kmsTags(tags: Array<{ Key: string; Value: string }> | undefined): Tag[] {
  return (tags ?? [])
    .filter(t => !t.Key.startsWith('cdk-kms-constructs:'))
    .map(t => ({ TagKey: t.Key, TagValue: t.Value }))
    .sort((a, b) => a.TagKey.localeCompare(b.TagKey));
}
