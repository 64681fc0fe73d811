/*
 * The wait of CustomKeyStore (isComplete), run by the aws-cdk-lib Provider framework
 * every 30 seconds until the store is CONNECTED, for up to 30 minutes (KMS connects a
 * store in up to 20). A FAILED connection ends the deployment with the step that is
 * missing, from the store's ConnectionErrorCode; in a rollback it is reported in the
 * log instead, so that the rollback ends (failing it would leave the stack in
 * UPDATE_ROLLBACK_FAILED, and the store's state is not CloudFormation's to roll back).
 * Like onEvent, it acts only on its own stack's events.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/disconnect-keystore.html
 */
import { KMSClient } from '@aws-sdk/client-kms';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { connect, connectionFailure, describeStore } from './key-store-api';
import { verifyEvent } from '../custom-resources/event-verification';
import { KEY_STORE_TYPE } from '../custom-resources/resource-types';

export interface ConnectionResponse {
  readonly IsComplete: boolean;
  readonly Data?: { readonly CustomKeyStoreId: string };
}

export async function handler(event: CloudFormationCustomResourceEvent & { PhysicalResourceId?: string }): Promise<ConnectionResponse> {
  // A store keeps its ID for life: an Update's must be the one CloudFormation records.
  const verified = await verifyEvent(event, KEY_STORE_TYPE, 'isComplete', { stablePhysicalId: true });
  if (event.RequestType === 'Delete') return { IsComplete: true };
  const id = event.PhysicalResourceId;
  if (!id) throw new Error('The connection wait was called without the store\'s ID: the custom resource was not written by CustomKeyStore');
  const kms = new KMSClient({});
  try {
    const store = await describeStore(kms, id);
    if (!store) throw new Error(`Custom key store ${id} no longer exists: it was deleted while it was being connected`);
    switch (store.ConnectionState) {
      case 'CONNECTED':
        return { IsComplete: true, Data: { CustomKeyStoreId: id } };
      case 'FAILED': {
        const failure = connectionFailure(store);
        if (!verified.rollingBack) throw failure;
        console.log(JSON.stringify({ level: 'WARN', message: `The rollback leaves the store as it is: ${failure.message}` }));
        return { IsComplete: true, Data: { CustomKeyStoreId: id } };
      }
      case 'DISCONNECTED':
        // The connect of onEvent is not seen yet, or was lost: ask again (idempotent).
        await connect(kms, id);
        return { IsComplete: false };
      default:
        return { IsComplete: false };
    }
  } finally {
    kms.destroy();
  }
}
