/*
 * The custom-resource handler of CustomKeyStore (onEvent), run by the aws-cdk-lib
 * Provider framework; the wait for the connection is custom-key-store-connection's
 * (isComplete, up to 30 minutes). It acts only on CloudFormation's events for its own
 * stack's stores (event-verification).
 *
 * The kmsuser password: KMS sets a new one each time it connects the store, so the
 * secret holds kmsuser's password only until the first connection. The handler sends
 * the secret's password only when it is the one to send: on create; when
 * `kmsUserPasswordVersion` changes (the user reset kmsuser to the secret's value); and
 * when the store's last connection FAILED because KMS's password was refused. A move
 * to a related cluster and a reconnection send none. A rollback never sends one, and
 * its wait does not fail on a failed connection (the rollback would fail with it).
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/connect-keystore.html
 *
 * - Create: makes the store, after marking its cluster with a tag naming this
 *   resource (a hash of the stack and logical IDs), and starts connecting it. A store
 *   of the same name is adopted only when the marker says this resource's earlier
 *   attempt made it; any other is refused by name.
 * - Update: renames in place; a new cluster disconnects the store, moves it and
 *   reconnects it. A store found DISCONNECTED or FAILED is reconnected. The trust
 *   anchor cannot change (KMS has no call for it); certificates are compared in one
 *   normal form, so a pasted certificate with other line ends is the same.
 * - Delete (only with RemovalPolicy.DESTROY: otherwise CloudFormation keeps the store
 *   and calls nothing): deletes an empty store; a store that still holds keys (or
 *   might) is kept, connected, and reported in the handler's log.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/create-keystore.html
 */
import { createHash } from 'crypto';
import { CloudHSMV2Client, ListTagsCommand, TagResourceCommand } from '@aws-sdk/client-cloudhsm-v2';
import {
  CreateCustomKeyStoreCommand, CustomKeyStoresListEntry, DeleteCustomKeyStoreCommand, DescribeCustomKeyStoresCommand, KMSClient,
  UpdateCustomKeyStoreCommand,
} from '@aws-sdk/client-kms';
import { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { explainCloudHsm } from './cloudhsm-api';
import {
  connect, describeStore, disconnect, findStoreByName, keysTagged, normalizeCertificate, readPassword, scanStoreKeys, STORE_TAG,
} from './key-store-api';
import { CREDENTIAL_ERRORS, explain, RESET_KMSUSER } from './key-store-errors';
import { ForgedEventError, verifyEvent } from '../custom-resources/event-verification';
import { isError } from '../custom-resources/handler-errors';
import { KEY_STORE_TYPE } from '../custom-resources/resource-types';
/** The tag on a store's cluster that names the custom resource that made the store. */
export const CLUSTER_MARKER_TAG = 'cdk-kms-constructs:custom-key-store';
/**
 * The tags on a store's cluster that say which kmsUserPasswordVersion, and which
 * version of the password secret, KMS was last given: the handler's own record, which
 * an event's OldResourceProperties cannot forge.
 */
export const PASSWORD_VERSION_TAG = 'cdk-kms-constructs:kmsuser-password-version';
export const SECRET_VERSION_TAG = 'cdk-kms-constructs:kmsuser-secret-version';

/** The custom resource's properties, as the construct writes them. */
export interface KeyStoreProperties {
  readonly CustomKeyStoreName: string;
  readonly CloudHsmClusterId: string;
  readonly TrustAnchorCertificate: string;
  /** The secret holding the kmsuser password; never the password. */
  readonly PasswordSecretArn: string;
  /** Changed by the user to have a deployment reconnect a failed store with the secret's password. */
  readonly PasswordVersion?: string;
}

export interface KeyStoreResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: { readonly CustomKeyStoreId: string };
}

/** How long onEvent waits for a disconnection: with a delete's look through the keys, within the function's 5 minutes. */
const DISCONNECT_BUDGET_MS = 150 * 1000;
const STORE_ID = /^cks-[a-z0-9]{17}$/;

/** How long a delete looks through the account's keys for keys in the store made outside the library. */
const SCAN_BUDGET_MS = 90 * 1000;

/** What the handler works with. */
interface Clients {
  readonly kms: KMSClient;
  readonly secrets: SecretsManagerClient;
  readonly cloudhsm: CloudHSMV2Client;
  readonly tagging: ResourceGroupsTaggingAPIClient;
}

export async function handler(event: CloudFormationCustomResourceEvent): Promise<KeyStoreResponse> {
  const verified = await verifyEvent(event, KEY_STORE_TYPE, 'onEvent', { stablePhysicalId: true });
  const clients: Clients = {
    kms: new KMSClient({}),
    secrets: new SecretsManagerClient({}),
    cloudhsm: new CloudHSMV2Client({}),
    tagging: new ResourceGroupsTaggingAPIClient({}),
  };
  // A tag value holds 256 characters at most: the stack ID and logical ID, hashed.
  const marker = createHash('sha256').update(`${event.StackId}/${event.LogicalResourceId}`).digest('hex');
  try {
    switch (event.RequestType) {
      case 'Create': return await create(clients, readProperties(event.ResourceProperties), marker);
      case 'Update': return await update(clients, event.PhysicalResourceId,
        readProperties(event.OldResourceProperties), readProperties(event.ResourceProperties), marker, verified.rollingBack);
      case 'Delete':
        // A store keeps its physical ID for life: a Delete of another one is not CloudFormation's.
        if (verified.replaced) {
          throw new ForgedEventError(`Refused a Delete event for ${event.LogicalResourceId} (${event.PhysicalResourceId}): a custom key store keeps its ID `
            + 'for life, so CloudFormation never deletes an earlier one. The custom key store handler changed nothing');
        }
        return await remove(clients, event.PhysicalResourceId);
    }
  } finally {
    Object.values(clients).forEach(client => client.destroy());
  }
}

function readProperties(raw: Record<string, unknown>): KeyStoreProperties {
  const names = ['CustomKeyStoreName', 'CloudHsmClusterId', 'TrustAnchorCertificate', 'PasswordSecretArn'];
  const missing = names.filter(name => typeof raw[name] !== 'string' || raw[name] === '');
  if (missing.length > 0) {
    throw new Error(`The custom key store handler was called without ${missing.join(', ')}: the custom resource was not written by CustomKeyStore`);
  }
  return raw as unknown as KeyStoreProperties;
}

async function create(clients: Clients, props: KeyStoreProperties, marker: string): Promise<KeyStoreResponse> {
  const { kms, secrets } = clients;
  const anchor = normalizeCertificate(props.TrustAnchorCertificate);
  const existing = await findStoreByName(kms, props.CustomKeyStoreName);
  if (existing) {
    if (existing.CloudHsmClusterId !== props.CloudHsmClusterId || normalizeCertificate(existing.TrustAnchorCertificate ?? '') !== anchor) {
      throw new Error(`A custom key store named ${props.CustomKeyStoreName} already exists (${existing.CustomKeyStoreId}) for cluster ${existing.CloudHsmClusterId}${existing.CloudHsmClusterId === props.CloudHsmClusterId ? ' with another trust anchor' : `, not ${props.CloudHsmClusterId}`}: choose another customKeyStoreName`);
    }
    // A retried create finds the store its first attempt made, and only that one: a
    // store made by hand or by another stack is never adopted (its deletion would
    // then be this stack's).
    const tags = await clusterTags(clients.cloudhsm, props.CloudHsmClusterId);
    const madeBy = tags[CLUSTER_MARKER_TAG];
    if (madeBy !== marker) {
      throw new Error(`A custom key store named ${props.CustomKeyStoreName} already exists (${existing.CustomKeyStoreId}) on cluster ${props.CloudHsmClusterId}, `
        + `and this resource did not make it (${madeBy ? 'another custom resource did' : 'it was made outside this library'}): `
        + 'CustomKeyStore adopts only its own earlier attempt. Choose another customKeyStoreName, or delete that store if nothing uses it');
    }
    const id = existing.CustomKeyStoreId!;
    await ensureConnecting(clients, id, props, { sendPassword: false, clusterId: props.CloudHsmClusterId, tags });
    return { PhysicalResourceId: id, Data: { CustomKeyStoreId: id } };
  }
  const taken = (await allStores(kms)).find(store => store.CloudHsmClusterId === props.CloudHsmClusterId);
  if (taken) {
    throw new Error(`Cannot create custom key store ${props.CustomKeyStoreName} for cluster ${props.CloudHsmClusterId}: `
      + `custom key store ${taken.CustomKeyStoreId} (${taken.CustomKeyStoreName}) already uses that cluster, and KMS allows one store per cluster`);
  }
  // The marker goes on first, so that an attempt cut short after KMS made the store
  // leaves what the next attempt needs to know the store for its own.
  const { password, versionId } = await readPassword(secrets, props.PasswordSecretArn);
  await tagCluster(clients.cloudhsm, props.CloudHsmClusterId, { [CLUSTER_MARKER_TAG]: marker, ...passwordRecord(props, versionId) });
  let id: string;
  try {
    const created = await kms.send(new CreateCustomKeyStoreCommand({
      CustomKeyStoreName: props.CustomKeyStoreName,
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      CloudHsmClusterId: props.CloudHsmClusterId,
      TrustAnchorCertificate: anchor,
      KeyStorePassword: password,
    }));
    id = created.CustomKeyStoreId!;
  } catch (error) {
    throw new Error(`Cannot create custom key store ${props.CustomKeyStoreName} for cluster ${props.CloudHsmClusterId}: ${explain(error)}`);
  }
  await connect(kms, id);
  return { PhysicalResourceId: id, Data: { CustomKeyStoreId: id } };
}

async function update(
  clients: Clients, id: string, old: KeyStoreProperties, props: KeyStoreProperties, marker: string, rollingBack: boolean,
): Promise<KeyStoreResponse> {
  const { kms } = clients;
  const store = await describeStore(kms, id);
  if (!store) throw new Error(`Custom key store ${id} no longer exists: it was deleted outside CloudFormation. Remove it from the stack, or make a new one with another construct ID`);
  if (normalizeCertificate(store.TrustAnchorCertificate ?? '') !== normalizeCertificate(props.TrustAnchorCertificate)) {
    throw new Error(`trustAnchorCertificate of custom key store ${id} cannot change: KMS has no call to change it, and it must stay the certificate the cluster was initialized with. Put the old certificate back; a store for another cluster lineage is a new CustomKeyStore`);
  }
  // Only a deployment that asks for it sends the secret's password: never a rollback,
  // which would send again the password that just failed. What KMS was last given is
  // the record on the cluster the store is to be on, the one the handler's policy
  // names (the event's old properties stand in where there is none yet: a store made
  // before the record, or a move to a cluster that has none).
  const clusterId = props.CloudHsmClusterId;
  const tags = await clusterTags(clients.cloudhsm, clusterId);
  const applied = tags[PASSWORD_VERSION_TAG] ?? old.PasswordVersion ?? '';
  const newPassword = !rollingBack && applied !== (props.PasswordVersion ?? '');
  if (old.CustomKeyStoreName !== props.CustomKeyStoreName) {
    await updateStore(kms, id, { NewCustomKeyStoreName: props.CustomKeyStoreName });
  }
  if (store.CloudHsmClusterId !== props.CloudHsmClusterId) {
    // KMS moves a store to another cluster of its lineage only while disconnected, and
    // keeps the kmsuser password it holds: the backup the new cluster was made from
    // has the same users.
    const secret = newPassword ? await readPassword(clients.secrets, props.PasswordSecretArn) : undefined;
    const record = secret ? passwordRecord(props, secret.versionId) : { [PASSWORD_VERSION_TAG]: applied };
    await tagCluster(clients.cloudhsm, props.CloudHsmClusterId, { [CLUSTER_MARKER_TAG]: marker, ...record });
    await disconnect(kms, id, DISCONNECT_BUDGET_MS);
    await updateStore(kms, id, { CloudHsmClusterId: props.CloudHsmClusterId, ...(secret ? { KeyStorePassword: secret.password } : {}) });
    await connect(kms, id);
  } else {
    await ensureConnecting(clients, id, props, { sendPassword: newPassword, rollingBack, clusterId, tags });
  }
  return { PhysicalResourceId: id, Data: { CustomKeyStoreId: id } };
}

async function remove(clients: Clients, id: string): Promise<KeyStoreResponse> {
  const { kms } = clients;
  // A create that failed before KMS made a store has nothing to delete.
  if (!STORE_ID.test(id)) return { PhysicalResourceId: id };
  const store = await describeStore(kms, id);
  if (!store) return { PhysicalResourceId: id };
  const keep = (why: string) => {
    console.log(JSON.stringify({ level: 'WARN', message: `Custom key store ${id} (${store.CustomKeyStoreName}) is kept: ${why}` }));
    return { PhysicalResourceId: id };
  };
  // A store with keys cannot be deleted, and disconnecting it would stop its keys. The
  // library's keys carry the store's tag; keys made outside it are found by a bounded
  // look through the account's keys, and a look cut short keeps the store.
  const tagged = await keysTagged(clients.tagging, STORE_TAG, id);
  if (tagged && tagged.length > 0) {
    return keep(`it holds ${tagged.length} key(s) of cdk-kms-constructs (${tagged.join(', ')}). KMS deletes a store only once its keys are deleted (after their pending window); delete it then with DisconnectCustomKeyStore and DeleteCustomKeyStore.`);
  }
  const scan = await scanStoreKeys(kms, id, { budgetMs: SCAN_BUDGET_MS, firstOnly: true });
  if (scan.hidden > 0) {
    return keep('a key of the account does not let it be described, and may be in the store. Delete the store by hand once it holds no key.');
  }
  if (scan.keyIds.length > 0) {
    return keep(`it holds key(s) (${scan.keyIds.join(', ')}). KMS deletes a store only once its keys are deleted (after their pending window); delete it then with DisconnectCustomKeyStore and DeleteCustomKeyStore.`);
  }
  if (!scan.complete) {
    return keep(`the account has more keys than the handler could look through in ${SCAN_BUDGET_MS / 1000} s, so some may be in the store. Delete the store by hand once it holds no key.`);
  }
  await disconnect(kms, id, DISCONNECT_BUDGET_MS);
  try {
    await kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id }));
  } catch (error) {
    if (isError(error, 'CustomKeyStoreNotFoundException')) return { PhysicalResourceId: id };
    if (isError(error, 'CustomKeyStoreHasCMKsException')) {
      // A key was made between the look and the delete: keep the store, as it was.
      await connect(kms, id);
      return keep('a key was created in it while it was being deleted.');
    }
    throw new Error(`Cannot delete custom key store ${id}: ${explain(error)}`);
  }
  return { PhysicalResourceId: id };
}

/**
 * Starts connecting a store unless it is connected or connecting. A FAILED store is
 * disconnected first, as KMS requires. The secret's password goes to KMS only when
 * `sendPassword` (a new kmsUserPasswordVersion), or when the last connection failed
 * because KMS's password was refused, the secret has changed since KMS was last given
 * it, and the stack is not rolling back: otherwise KMS keeps the one it set at its
 * last connection. What was sent is recorded on the cluster.
 */
async function ensureConnecting(
  clients: Clients, id: string, props: KeyStoreProperties,
  options: { sendPassword: boolean; rollingBack?: boolean; clusterId: string; tags: Record<string, string> },
): Promise<void> {
  const { kms } = clients;
  const store = await describeStore(kms, id);
  const refused = store?.ConnectionState === 'FAILED' && CREDENTIAL_ERRORS.has(store.ConnectionErrorCode ?? '');
  let secret = options.sendPassword ? await readPassword(clients.secrets, props.PasswordSecretArn) : undefined;
  if (!secret && refused && !options.rollingBack) {
    const current = await readPassword(clients.secrets, props.PasswordSecretArn);
    if (current.versionId && current.versionId === options.tags[SECRET_VERSION_TAG]) {
      // Sending it again would be one more failed login towards USER_LOCKED_OUT.
      throw new Error(`Custom key store ${id} failed to connect (${store?.ConnectionErrorCode}), and the kmsUserPassword secret still holds the password `
        + `KMS was last given (secret version ${current.versionId}), which KMS has replaced since. ${RESET_KMSUSER}`);
    }
    secret = current;
  }
  if (!secret && (store?.ConnectionState === 'CONNECTED' || store?.ConnectionState === 'CONNECTING')) return;
  await disconnect(kms, id, DISCONNECT_BUDGET_MS);
  if (secret) {
    await updateStore(kms, id, { KeyStorePassword: secret.password });
    await tagCluster(clients.cloudhsm, options.clusterId, passwordRecord(props, secret.versionId));
  }
  await connect(kms, id);
}

/** The cluster tags that record which password KMS was given. */
function passwordRecord(props: KeyStoreProperties, secretVersion: string | undefined): Record<string, string> {
  return { [PASSWORD_VERSION_TAG]: props.PasswordVersion ?? '', [SECRET_VERSION_TAG]: secretVersion ?? '' };
}

/** Every custom key store of the account and Region (ten at most, by KMS's quota). */
async function allStores(kms: KMSClient): Promise<CustomKeyStoresListEntry[]> {
  const stores: CustomKeyStoresListEntry[] = [];
  let marker: string | undefined;
  try {
    do {
      const page = await kms.send(new DescribeCustomKeyStoresCommand({ Marker: marker }));
      stores.push(...page.CustomKeyStores ?? []);
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
  } catch (error) {
    throw new Error(`Cannot list the custom key stores of the account: ${explain(error)}`);
  }
  return stores;
}

/** A cluster's tags, by key: the marker of the resource that made the store on it, and the password record. */
async function clusterTags(cloudhsm: CloudHSMV2Client, clusterId: string): Promise<Record<string, string>> {
  try {
    const tags: Record<string, string> = {};
    let token: string | undefined;
    do {
      const page = await cloudhsm.send(new ListTagsCommand({ ResourceId: clusterId, NextToken: token }));
      for (const tag of page.TagList ?? []) tags[tag.Key!] = tag.Value ?? '';
      token = page.NextToken;
    } while (token);
    return tags;
  } catch (error) {
    throw new Error(`Cannot read the tags of CloudHSM cluster ${clusterId}: ${explainCloudHsm(error)}`);
  }
}

async function tagCluster(cloudhsm: CloudHSMV2Client, clusterId: string, tags: Record<string, string>): Promise<void> {
  if (Object.keys(tags).length === 0) return;
  try {
    await cloudhsm.send(new TagResourceCommand({ ResourceId: clusterId, TagList: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }));
  } catch (error) {
    throw new Error(`Cannot tag CloudHSM cluster ${clusterId} with the store's record: ${explainCloudHsm(error)}`);
  }
}

async function updateStore(kms: KMSClient, id: string, change: Omit<ConstructorParameters<typeof UpdateCustomKeyStoreCommand>[0], 'CustomKeyStoreId'>): Promise<void> {
  try {
    await kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, ...change }));
  } catch (error) {
    throw new Error(`Cannot update custom key store ${id} (${Object.keys(change).join(', ')}): ${explain(error)}`);
  }
}
