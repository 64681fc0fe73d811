/*
 * The custom-resource handler of CustomKeyStore (onEvent), run by the aws-cdk-lib
 * Provider framework; the wait for the connection is custom-key-store-connection's
 * (isComplete, up to 20 minutes).
 *
 * - Create: finds the store by its name (a retried create finds what the first made)
 *   or creates it with the kmsuser password read from its secret, and starts
 *   connecting it.
 * - Update: renames in place; a new cluster or password secret disconnects the
 *   store, updates it and reconnects it. A store found DISCONNECTED or FAILED is
 *   reconnected. The trust anchor cannot change: KMS has no call for it.
 * - Delete (only with RemovalPolicy.DESTROY: otherwise CloudFormation keeps the store
 *   and calls nothing): deletes an empty store; a store that still holds keys is
 *   kept, connected, and reported in the handler's log.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/create-keystore.html
 */
import { CreateCustomKeyStoreCommand, DeleteCustomKeyStoreCommand, KMSClient, UpdateCustomKeyStoreCommand } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { connect, describeStore, disconnect, findStoreByName, keysInStore, readPassword } from './private/key-store-api';
import { explain, isError } from './private/key-store-errors';

/** The custom resource's properties, as the construct writes them. */
export interface KeyStoreProperties {
  readonly CustomKeyStoreName: string;
  readonly CloudHsmClusterId: string;
  readonly TrustAnchorCertificate: string;
  /** The secret holding the kmsuser password; never the password. */
  readonly PasswordSecretArn: string;
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
  let id: string;
  const existing = await findStoreByName(kms, props.CustomKeyStoreName);
  if (existing) {
    // A retried create, or a store of the same name from before.
    if (existing.CloudHsmClusterId !== props.CloudHsmClusterId) {
      throw new Error(`A custom key store named ${props.CustomKeyStoreName} already exists (${existing.CustomKeyStoreId}) for cluster ${existing.CloudHsmClusterId}, not ${props.CloudHsmClusterId}: choose another customKeyStoreName`);
    }
    id = existing.CustomKeyStoreId!;
  } else {
    const password = await readPassword(secrets, props.PasswordSecretArn);
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
  }
  await ensureConnecting(kms, id);
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
  const clusterChanged = old.CloudHsmClusterId !== props.CloudHsmClusterId;
  const secretChanged = old.PasswordSecretArn !== props.PasswordSecretArn;
  if (clusterChanged || secretChanged) {
    const password = secretChanged ? await readPassword(secrets, props.PasswordSecretArn) : undefined;
    await disconnect(kms, id, DISCONNECT_BUDGET_MS);
    await updateStore(kms, id, {
      ...(clusterChanged ? { CloudHsmClusterId: props.CloudHsmClusterId } : {}),
      ...(password !== undefined ? { KeyStorePassword: password } : {}),
    });
    await connect(kms, id);
  } else {
    await ensureConnecting(kms, id);
  }
  return { PhysicalResourceId: id, Data: { CustomKeyStoreId: id } };
}

async function remove(kms: KMSClient, id: string): Promise<KeyStoreResponse> {
  // A create that failed before KMS made a store has nothing to delete.
  if (!STORE_ID.test(id)) return { PhysicalResourceId: id };
  const store = await describeStore(kms, id);
  if (!store) return { PhysicalResourceId: id };
  // A store with keys cannot be deleted, and disconnecting it would stop its keys.
  const keys = await keysInStore(kms, id);
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

/** Starts connecting a store unless it is connected or connecting; a failed one is reset first. */
async function ensureConnecting(kms: KMSClient, id: string): Promise<void> {
  const store = await describeStore(kms, id);
  switch (store?.ConnectionState) {
    case 'CONNECTED':
    case 'CONNECTING':
      return;
    case 'FAILED':
    case 'DISCONNECTING':
      // KMS reconnects a failed store only once it is disconnected.
      await disconnect(kms, id, DISCONNECT_BUDGET_MS);
      await connect(kms, id);
      return;
    default:
      await connect(kms, id);
  }
}

async function updateStore(kms: KMSClient, id: string, change: Omit<ConstructorParameters<typeof UpdateCustomKeyStoreCommand>[0], 'CustomKeyStoreId'>): Promise<void> {
  try {
    await kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, ...change }));
  } catch (error) {
    throw new Error(`Cannot update custom key store ${id} (${Object.keys(change).join(', ')}): ${explain(error)}`);
  }
}
