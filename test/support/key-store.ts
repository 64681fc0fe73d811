import { Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { CloudHsmCluster, CustomKeyStore } from '../../src';

/** A custom key store on an adopted cluster (example IDs and certificate), as tests of its keys need one. */
export function adoptedKeyStore(stack: Stack, id = 'Store'): CustomKeyStore {
  return new CustomKeyStore(stack, id, {
    cluster: CloudHsmCluster.fromClusterAttributes(stack, `${id}Cluster`, { clusterId: 'cluster-jxhlf7644ne' }),
    customKeyStoreName: 'vault',
    trustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nMIIDUzCCAjugAwIBAgIU\n-----END CERTIFICATE-----',
    kmsUserPassword: secretsmanager.Secret.fromSecretNameV2(stack, `${id}KmsUser`, 'vault/kmsuser'),
  });
}
