/*
 * The custom-resource handler of a ClassifiedKey in a CloudHSM custom key store
 * (CustomKeyStore.addKey), run by the aws-cdk-lib Provider framework. CloudFormation's
 * AWS::KMS::Key cannot make one (it has no custom key store and refuses the
 * AWS_CLOUDHSM origin).
 *
 * - Create: `CreateKey` with `Origin: AWS_CLOUDHSM` in the store, with the key policy,
 *   description and tags, and a tag naming the custom resource (a hash of the stack
 *   and logical IDs), by which a retried create finds the key the first attempt made.
 * - Update: the key policy, description and tags are kept in sync; a new store makes
 *   a new key (CloudFormation then keeps or deletes the old one by its policies).
 * - Delete (only with RemovalPolicy.DESTROY): `ScheduleKeyDeletion` with the pending
 *   window; a key already gone or pending deletion is done.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/create-cmk-keystore.html
 */
import { createHash } from 'crypto';
import {
  CreateKeyCommand,
  DescribeKeyCommand,
  KMSClient,
  PutKeyPolicyCommand,
  ScheduleKeyDeletionCommand,
  Tag,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateKeyDescriptionCommand,
} from '@aws-sdk/client-kms';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { isError } from './private/handler-errors';
import { keysInStore } from './private/key-store-api';
import { explain } from './private/key-store-errors';

/** The tag by which a key names the custom resource that made it. */
export const RESOURCE_TAG = 'cdk-kms-constructs:resource';

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
  const kms = new KMSClient({});
  // A tag value holds 256 characters at most: the stack ID and logical ID, hashed.
  const marker = createHash('sha256').update(`${event.StackId}/${event.LogicalResourceId}`).digest('hex');
  try {
    switch (event.RequestType) {
      case 'Create':
        return await create(kms, readProperties(event.ResourceProperties), marker);
      case 'Update': {
        const old = readProperties(event.OldResourceProperties);
        const props = readProperties(event.ResourceProperties);
        if (old.CustomKeyStoreId !== props.CustomKeyStoreId) return await create(kms, props, marker);
        return await update(kms, event.PhysicalResourceId, old, props);
      }
      case 'Delete':
        return await remove(kms, event.PhysicalResourceId, readProperties(event.ResourceProperties));
    }
  } finally {
    kms.destroy();
  }
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

async function create(kms: KMSClient, props: HsmKeyProperties, marker: string): Promise<HsmKeyResponse> {
  const store = props.CustomKeyStoreId;
  // A retried create: the key the first attempt made is in the store, tagged with us.
  const made = await keysInStore(kms, store, tags => tags.some(t => t.TagKey === RESOURCE_TAG && t.TagValue === marker));
  if (made.length > 0) return update(kms, made[0], undefined, props);
  try {
    const { KeyMetadata: key } = await kms.send(new CreateKeyCommand({
      Origin: 'AWS_CLOUDHSM',
      CustomKeyStoreId: store,
      KeySpec: 'SYMMETRIC_DEFAULT',
      KeyUsage: 'ENCRYPT_DECRYPT',
      Description: props.Description,
      Policy: JSON.stringify(props.KeyPolicy),
      Tags: [...kmsTags(props.Tags), { TagKey: RESOURCE_TAG, TagValue: marker }],
    }));
    return arnAnswer(key!.Arn!, key!.KeyId!);
  } catch (error) {
    throw new Error(`Cannot create a key in custom key store ${store}: ${explain(error)}`);
  }
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
    await call('update the key policy', () => kms.send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy: JSON.stringify(props.KeyPolicy) })));
  }
  if (!old || old.Description !== props.Description) {
    await call('update the description', () => kms.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: props.Description })));
  }
  const wanted = kmsTags(props.Tags);
  const removed = kmsTags(old?.Tags).filter(t => !wanted.some(w => w.TagKey === t.TagKey)).map(t => t.TagKey!);
  if (removed.length > 0) {
    await call('remove tags', () => kms.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: removed })));
  }
  if (wanted.length > 0 && (!old || JSON.stringify(kmsTags(old.Tags)) !== JSON.stringify(wanted))) {
    await call('tag', () => kms.send(new TagResourceCommand({ KeyId: keyId, Tags: wanted })));
  }
  try {
    const { KeyMetadata: key } = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    return arnAnswer(key!.Arn!, keyId);
  } catch (error) {
    throw new Error(`Cannot describe key ${keyId}: ${explain(error)}`);
  }
}

async function remove(kms: KMSClient, keyId: string, props: HsmKeyProperties): Promise<HsmKeyResponse> {
  // A create that failed before KMS made a key has nothing to delete.
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(keyId)) return { PhysicalResourceId: keyId };
  try {
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: Number(props.PendingWindowInDays) }));
  } catch (error) {
    // Gone, or already pending deletion: what was asked for is done.
    if (isError(error, 'NotFoundException') || isError(error, 'KMSInvalidStateException')) return { PhysicalResourceId: keyId };
    throw new Error(`Cannot schedule the deletion of key ${keyId}: ${explain(error)}`);
  }
  return { PhysicalResourceId: keyId };
}

function kmsTags(tags: Array<{ Key: string; Value: string }> | undefined): Tag[] {
  return (tags ?? []).map(t => ({ TagKey: t.Key, TagValue: t.Value })).sort((a, b) => a.TagKey.localeCompare(b.TagKey));
}
