/*
 * The custom-resource handler of CustomKeyStore (onEvent), run by the aws-cdk-lib
 * Provider framework; the wait for the connection is custom-key-store-connection's
 * (isComplete, up to 20 minutes).
 *
 * - Create: finds the store by its name (a retried create finds what the first made)
 *   or creates it with the kmsuser password read from its secret, and starts
 *   connecting it.
 * - Update: renames in place; a new cluster disconnects the store, moves it and
 *   reconnects it. A store found DISCONNECTED or FAILED (a new password secret or
 *   password version asks for this) is given the secret's current password and
 *   reconnected; a CONNECTED one is left connected, since KMS changes the kmsuser
 *   password itself at each connection. The trust anchor cannot change: KMS has no
 *   call for it.
 * - Delete (only with RemovalPolicy.DESTROY: otherwise CloudFormation keeps the store
 *   and calls nothing): deletes an empty store; a store that still holds keys is
 *   kept, connected, and reported in the handler's log.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/create-keystore.html
 */
import { CreateCustomKeyStoreCommand, DeleteCustomKeyStoreCommand, KMSClient, UpdateCustomKeyStoreCommand } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { isError } from './private/handler-errors';
import { connect, describeStore, disconnect, findStoreByName, keysInStore, readPassword } from './private/key-store-api';
import { explain } from './private/key-store-errors';

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

/** How long onEvent waits for a disconnection, well within the function's timeout. */
const DISCONNECT_BUDGET_MS = 3 * 60 * 1000;
const STORE_ID = /^cks-[a-z0-9]{17}$/;

export async function handler(event: CloudFormationCustomResourceEvent): Promise<KeyStoreResponse> {
  const kms = new KMSClient({});
  const secrets = new SecretsManagerClient({});
  try {
    switch (event.RequestType) {
      case 'Create': return await create(kms, secrets, readProperties(event.ResourceProperties));
      case 'Update': return await update(kms, secrets, event.PhysicalResourceId,
        readProperties(event.OldResourceProperties), readProperties(event.ResourceProperties));
      case 'Delete': return await remove(kms, event.PhysicalResourceId);
    }
  } finally {
    kms.destroy();
    secrets.destroy();
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

async function create(kms: KMSClient, secrets: SecretsManagerClient, props: KeyStoreProperties): Promise<KeyStoreResponse> {
  const existing = await findStoreByName(kms, props.CustomKeyStoreName);
  if (existing) {
    // A retried create: the store the first attempt made, for this cluster and anchor.
    if (existing.CloudHsmClusterId !== props.CloudHsmClusterId || existing.TrustAnchorCertificate?.trim() !== props.TrustAnchorCertificate.trim()) {
      throw new Error(`A custom key store named ${props.CustomKeyStoreName} already exists (${existing.CustomKeyStoreId}) for cluster ${existing.CloudHsmClusterId}${existing.CloudHsmClusterId === props.CloudHsmClusterId ? ' with another trust anchor' : `, not ${props.CloudHsmClusterId}`}: choose another customKeyStoreName`);
    }
    const id = existing.CustomKeyStoreId!;
    await ensureConnecting(kms, secrets, id, props);
    return { PhysicalResourceId: id, Data: { CustomKeyStoreId: id } };
  }
  const password = await readPassword(secrets, props.PasswordSecretArn);
  let id: string;
  try {
    const created = await kms.send(new CreateCustomKeyStoreCommand({
      CustomKeyStoreName: props.CustomKeyStoreName,
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      CloudHsmClusterId: props.CloudHsmClusterId,
      TrustAnchorCertificate: props.TrustAnchorCertificate,
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
  kms: KMSClient, secrets: SecretsManagerClient, id: string, old: KeyStoreProperties, props: KeyStoreProperties,
): Promise<KeyStoreResponse> {
  if (old.TrustAnchorCertificate !== props.TrustAnchorCertificate) {
    throw new Error(`trustAnchorCertificate of custom key store ${id} cannot change: KMS has no call to change it, and it must stay the certificate the cluster was initialized with. Put the old certificate back; a store for another cluster lineage is a new CustomKeyStore`);
  }
  if (old.CustomKeyStoreName !== props.CustomKeyStoreName) {
    await updateStore(kms, id, { NewCustomKeyStoreName: props.CustomKeyStoreName });
  }
  if (old.CloudHsmClusterId !== props.CloudHsmClusterId) {
    // KMS moves a store to another cluster of its lineage only while disconnected.
    const password = await readPassword(secrets, props.PasswordSecretArn);
    await disconnect(kms, id, DISCONNECT_BUDGET_MS);
    await updateStore(kms, id, { CloudHsmClusterId: props.CloudHsmClusterId, KeyStorePassword: password });
    await connect(kms, id);
  } else {
    await ensureConnecting(kms, secrets, id, props);
  }
  return { PhysicalResourceId: id, Data: { CustomKeyStoreId: id } };
}

async function remove(kms: KMSClient, id: string): Promise<KeyStoreResponse> {
  // A create that failed before KMS made a store has nothing to delete.
  if (!STORE_ID.test(id)) return { PhysicalResourceId: id };
  const store = await describeStore(kms, id);
  if (!store) return { PhysicalResourceId: id };
  // A store with keys cannot be deleted, and disconnecting it would stop its keys:
  // keys the account may not describe might be in it too.
  const keys = await keysInStore(kms, id);
  if (keys.hidden > 0) {
    console.log(JSON.stringify({
      level: 'WARN',
      message: `Custom key store ${id} (${store.CustomKeyStoreName}) is kept: ${keys.hidden} key(s) of the account do not let it be described, and may be in the store. Delete the store by hand once it holds no key.`,
    }));
    return { PhysicalResourceId: id };
  }
  if (keys.length > 0) {
    console.log(JSON.stringify({
      level: 'WARN',
      message: `Custom key store ${id} (${store.CustomKeyStoreName}) is kept: it holds ${keys.length} key(s) (${keys.join(', ')}). KMS deletes a store only once its keys are deleted (after their pending window); delete it then with DisconnectCustomKeyStore and DeleteCustomKeyStore.`,
    }));
    return { PhysicalResourceId: id };
  }
  await disconnect(kms, id, DISCONNECT_BUDGET_MS);
  try {
    await kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id }));
  } catch (error) {
    if (isError(error, 'CustomKeyStoreNotFoundException')) return { PhysicalResourceId: id };
    if (isError(error, 'CustomKeyStoreHasCMKsException')) {
      // A key was made between the look and the delete: keep the store, as it was.
      await connect(kms, id);
      console.log(JSON.stringify({ level: 'WARN', message: `Custom key store ${id} is kept: a key was created in it while it was being deleted.` }));
      return { PhysicalResourceId: id };
    }
    throw new Error(`Cannot delete custom key store ${id}: ${explain(error)}`);
  }
  return { PhysicalResourceId: id };
}

/**
 * Starts connecting a store unless it is connected or connecting. A failed one is
 * disconnected first, as KMS requires, and a disconnected one is given the secret's
 * current password: KMS changes kmsuser's password at each connection, so the one it
 * holds is stale once a connection failed and the user reset it.
 */
async function ensureConnecting(kms: KMSClient, secrets: SecretsManagerClient, id: string, props: KeyStoreProperties): Promise<void> {
  const store = await describeStore(kms, id);
  if (store?.ConnectionState === 'CONNECTED' || store?.ConnectionState === 'CONNECTING') return;
  const password = await readPassword(secrets, props.PasswordSecretArn);
  await disconnect(kms, id, DISCONNECT_BUDGET_MS);
  await updateStore(kms, id, { KeyStorePassword: password });
  await connect(kms, id);
}

async function updateStore(kms: KMSClient, id: string, change: Omit<ConstructorParameters<typeof UpdateCustomKeyStoreCommand>[0], 'CustomKeyStoreId'>): Promise<void> {
  try {
    await kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, ...change }));
  } catch (error) {
    throw new Error(`Cannot update custom key store ${id} (${Object.keys(change).join(', ')}): ${explain(error)}`);
  }
}
