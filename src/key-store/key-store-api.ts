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
import { GetResourcesCommand, ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CONNECTION_ERRORS, explain } from './key-store-errors';
import { isError } from '../custom-resources/handler-errors';

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

/** The tag by which a key names the custom resource that made it (a hash of its stack and logical IDs). */
export const RESOURCE_TAG = 'cdk-kms-constructs:resource';
/** The tag by which a key the library made names its custom key store. */
export const STORE_TAG = 'cdk-kms-constructs:custom-key-store';

/** How many DescribeKey calls the fallback scan makes at once: well under KMS's request quotas. */
const SCAN_CONCURRENCY = 10;

/** Keys of a store, and whether the search saw every key of the account. */
export interface StoreKeys {
  /** The IDs of the keys found. */
  readonly keyIds: string[];
  /** Keys whose policy did not let the account describe them: they may be in the store. */
  readonly hidden: number;
  /** False when the scan ran out of time before it saw every key. */
  readonly complete: boolean;
}

/**
 * The library's keys that carry this tag and value, by the Resource Groups Tagging API:
 * one call per hundred keys found, whatever the number of keys in the account. Its
 * answers trail a tag change by moments, which the callers allow for. Undefined when
 * the API cannot be read (then the callers scan).
 * @see https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html
 */
export async function keysTagged(tagging: ResourceGroupsTaggingAPIClient, key: string, value: string): Promise<string[] | undefined> {
  const ids: string[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await tagging.send(new GetResourcesCommand({
        ResourceTypeFilters: ['kms:key'],
        TagFilters: [{ Key: key, Values: [value] }],
        ResourcesPerPage: 100,
        PaginationToken: token,
      }));
      for (const { ResourceARN: arn } of page.ResourceTagMappingList ?? []) {
        const id = /:key\/(.+)$/.exec(arn ?? '')?.[1];
        if (id) ids.push(id);
      }
      token = page.PaginationToken || undefined;
    } while (token);
  } catch (error) {
    console.log(JSON.stringify({ level: 'WARN', message: `Cannot read the keys tagged ${key}=${value} (${(error as Error).name}: ${(error as Error).message}); looking through the account's keys instead` }));
    return undefined;
  }
  return ids;
}

/**
 * The keys of the account and Region that are in a store (and whose tags pass `match`
 * when given), by describing every key: KMS lists keys by account and Region only. The
 * fallback of `keysTagged`, for keys made outside the library (or before it tagged
 * them): `SCAN_CONCURRENCY` calls at a time, stopping at the first key found when
 * `firstOnly`, and within `budgetMs`, past which it says it is not `complete`.
 */
export async function scanStoreKeys(
  kms: KMSClient, storeId: string, options: { budgetMs: number; firstOnly?: boolean; match?: (tags: Tag[]) => boolean },
): Promise<StoreKeys> {
  const deadline = Date.now() + options.budgetMs;
  const keyIds: string[] = [];
  let hidden = 0;
  let marker: string | undefined;
  const enough = () => options.firstOnly === true && (keyIds.length > 0 || hidden > 0);
  do {
    if (Date.now() >= deadline) return { keyIds, hidden, complete: false };
    const page = await kms.send(new ListKeysCommand({ Marker: marker, Limit: 1000 }));
    const queue = (page.Keys ?? []).map(k => k.KeyId!);
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined && !enough() && Date.now() < deadline; id = queue.shift()) {
        try {
          const { KeyMetadata: key } = await kms.send(new DescribeKeyCommand({ KeyId: id }));
          if (key?.CustomKeyStoreId !== storeId) continue;
          if (options.match) {
            const { Tags } = await kms.send(new ListResourceTagsCommand({ KeyId: id }));
            if (!options.match(Tags ?? [])) continue;
          }
          keyIds.push(key.KeyId!);
        } catch (error) {
          // A key deleted meanwhile is none of ours; one whose policy does not let this
          // account describe it is counted (this library's keys let the account's IAM
          // describe them).
          if (isError(error, 'NotFoundException')) continue;
          if (isError(error, 'AccessDeniedException')) {
            hidden++;
            continue;
          }
          throw new Error(`Cannot look through the keys of the account: ${explain(error)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: SCAN_CONCURRENCY }, worker));
    if (enough()) return { keyIds, hidden, complete: true };
    if (queue.length > 0) return { keyIds, hidden, complete: false };
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker);
  return { keyIds, hidden, complete: true };
}

/**
 * One form of a PEM certificate for comparing and sending: line ends as LF, each
 * line trimmed, no blank lines. A certificate pasted from a file, with a trailing
 * newline or CRLF line ends, is the same certificate as the one KMS holds.
 */
export function normalizeCertificate(pem: string): string {
  return pem.replace(/\r\n?/g, '\n').split('\n').map(line => line.trim()).filter(line => line !== '').join('\n');
}

/**
 * The kmsuser password from its secret: the secret's string, or its `password` field
 * when it is JSON, and the secret's version. KMS takes 7 to 32 characters. The value
 * never leaves the handler.
 */
export async function readPassword(secrets: SecretsManagerClient, secretArn: string): Promise<{ password: string; versionId?: string }> {
  let value: string | undefined;
  let versionId: string | undefined;
  try {
    ({ SecretString: value, VersionId: versionId } = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn })));
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
  return { password, versionId };
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}
