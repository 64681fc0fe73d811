/*
 * The calls the custom key store and HSM key handlers share, on AWS SDK v3 clients
 * (the Lambda runtime's; not bundled).
 */
import {
  ConnectCustomKeyStoreCommand,
  CustomKeyStoresListEntry,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  DisconnectCustomKeyStoreCommand,
  KMSClient,
  ListKeysCommand,
  ListResourceTagsCommand,
  Tag,
} from '@aws-sdk/client-kms';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { isError } from './handler-errors';
import { CONNECTION_ERRORS, explain } from './key-store-errors';

/** How long to wait between two looks at a store's state, in ms (tests set 0). */
const POLL_MS = Number(process.env.KEY_STORE_POLL_MS ?? 5000);

/** The store with this ID, or undefined when it does not exist. */
export async function describeStore(kms: KMSClient, id: string): Promise<CustomKeyStoresListEntry | undefined> {
  try {
    const { CustomKeyStores } = await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: id }));
    return CustomKeyStores?.[0];
  } catch (error) {
    if (isError(error, 'CustomKeyStoreNotFoundException')) return undefined;
    throw new Error(`Cannot describe custom key store ${id}: ${explain(error)}`);
  }
}

/** The store with this name, or undefined when none has it. */
export async function findStoreByName(kms: KMSClient, name: string): Promise<CustomKeyStoresListEntry | undefined> {
  try {
    const { CustomKeyStores } = await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreName: name }));
    return CustomKeyStores?.[0];
  } catch (error) {
    if (isError(error, 'CustomKeyStoreNotFoundException')) return undefined;
    throw new Error(`Cannot look for a custom key store named ${name}: ${explain(error)}`);
  }
}

/** A store's failed connection, as the step that is missing. */
export function connectionFailure(store: CustomKeyStoresListEntry): Error {
  const code = store.ConnectionErrorCode ?? 'no error code';
  const remedy = CONNECTION_ERRORS[code] ?? 'see the troubleshooting guide (https://docs.aws.amazon.com/kms/latest/developerguide/fix-keystore.html)';
  return new Error(`Custom key store ${store.CustomKeyStoreId} (${store.CustomKeyStoreName}) failed to connect to cluster ${store.CloudHsmClusterId} (${code}): ${remedy}`);
}

/**
 * Disconnects a store and waits, within `budgetMs`, until it is DISCONNECTED (which
 * KMS reaches in seconds; connecting is the long wait). A store already
 * disconnected is left as it is.
 */
export async function disconnect(kms: KMSClient, id: string, budgetMs: number): Promise<void> {
  const store = await describeStore(kms, id);
  if (!store) throw new Error(`Custom key store ${id} no longer exists`);
  if (store.ConnectionState !== 'DISCONNECTED' && store.ConnectionState !== 'DISCONNECTING') {
    try {
      await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    } catch (error) {
      throw new Error(`Cannot disconnect custom key store ${id}: ${explain(error)}`);
    }
  }
  const deadline = Date.now() + budgetMs;
  for (;;) {
    const now = await describeStore(kms, id);
    if (now?.ConnectionState === 'DISCONNECTED') return;
    if (Date.now() >= deadline) {
      throw new Error(`Custom key store ${id} is still ${now?.ConnectionState ?? 'unknown'} after ${Math.round(budgetMs / 1000)} s of disconnecting; retry the deployment`);
    }
    await sleep(POLL_MS);
  }
}

/** Starts connecting a store; KMS connects it in up to 20 minutes. */
export async function connect(kms: KMSClient, id: string): Promise<void> {
  try {
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
  } catch (error) {
    // Already connecting or connected: what was asked for is under way.
    if (isError(error, 'CustomKeyStoreInvalidStateException')) return;
    throw new Error(`Cannot connect custom key store ${id}: ${explain(error)}`);
  }
}

/**
 * The keys of the account and Region that are in a store, and whose tags pass
 * `match` when given. KMS lists keys by account and Region only, so each key is
 * described: one call per key of the Region. `hidden` counts the keys whose policy
 * does not let the account describe them, which may be in the store.
 */
export async function keysInStore(kms: KMSClient, storeId: string, match?: (tags: Tag[]) => boolean): Promise<string[] & { hidden: number }> {
  const found = Object.assign([] as string[], { hidden: 0 });
  let marker: string | undefined;
  do {
    const page = await kms.send(new ListKeysCommand({ Marker: marker, Limit: 1000 }));
    for (const { KeyId } of page.Keys ?? []) {
      try {
        const { KeyMetadata: key } = await kms.send(new DescribeKeyCommand({ KeyId }));
        if (key?.CustomKeyStoreId !== storeId) continue;
        if (match) {
          const { Tags } = await kms.send(new ListResourceTagsCommand({ KeyId }));
          if (!match(Tags ?? [])) continue;
        }
        found.push(key.KeyId!);
      } catch (error) {
        // A key deleted meanwhile is none of ours; one whose policy does not let this
        // account describe it is counted (this library's keys let the account's IAM
        // describe them).
        if (isError(error, 'NotFoundException')) continue;
        if (isError(error, 'AccessDeniedException')) {
          found.hidden++;
          continue;
        }
        throw new Error(`Cannot look through the keys of the account: ${explain(error)}`);
      }
    }
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker);
  return found;
}

/**
 * The kmsuser password from its secret: the secret's string, or its `password` field
 * when it is JSON. KMS takes 7 to 32 characters. The value never leaves the handler.
 */
export async function readPassword(secrets: SecretsManagerClient, secretArn: string): Promise<string> {
  let value: string | undefined;
  try {
    ({ SecretString: value } = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn })));
  } catch (error) {
    throw new Error(`Cannot read the kmsuser password from ${secretArn}: ${explain(error)}`);
  }
  if (value === undefined) throw new Error(`The kmsuser password secret ${secretArn} has no string value (a binary secret?)`);
  let password = value;
  try {
    const parsed = JSON.parse(value);
    if (parsed && typeof parsed === 'object' && typeof parsed.password === 'string') password = parsed.password;
  } catch {
    // A plain string secret.
  }
  if (password.length < 7 || password.length > 32) {
    throw new Error(`The kmsuser password in ${secretArn} must be 7 to 32 characters, as KMS requires; it has ${password.length}`);
  }
  return password;
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}
