/*
 * What goes wrong between KMS, a custom key store and its CloudHSM cluster, as what
 * to do about it. Shared by the handlers of CustomKeyStore and of the keys in it;
 * bundled into each (no AWS SDK import here).
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/fix-keystore.html
 */
import { explainAwsError } from '../custom-resources/handler-errors';

/**
 * How to give KMS kmsuser's password again. KMS sets a new password each time it
 * connects, so the secret's value is kmsuser's only until the first connection.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/fix-keystore.html
 */
export const RESET_KMSUSER = 'To recover: (1) with the CloudHSM CLI on a host that reaches the cluster, log in as an admin and set kmsuser\'s password to the '
  + 'value of the kmsUserPassword secret (user change-password --username kmsuser --role crypto-user), or set a new one and store it in the secret; '
  + '(2) deploy with a new kmsUserPasswordVersion: the deployment then gives KMS the secret\'s password and reconnects the store';

/** The connection errors that say KMS's kmsuser password was refused: the secret's password may then be sent. */
export const CREDENTIAL_ERRORS = new Set(['INVALID_CREDENTIALS', 'USER_LOCKED_OUT']);

/** A store's ConnectionErrorCode, as the step that is missing. */
export const CONNECTION_ERRORS: Record<string, string> = {
  CLUSTER_NOT_FOUND: 'KMS cannot find the CloudHSM cluster: check that the cluster ID is right and the cluster was not deleted',
  INSUFFICIENT_CLOUDHSM_HSMS: 'the cluster has no active HSM: add HSMs (two at least, in different Availability Zones) with CreateHsm and wait until they are ACTIVE',
  INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET: 'a subnet of the cluster has no free IP address: KMS needs one in each of the cluster\'s subnets (two are better); free addresses there',
  INTERNAL_ERROR: 'KMS failed internally: retry the deployment',
  INVALID_CREDENTIALS: `the kmsuser password KMS has is not the one on the HSMs. ${RESET_KMSUSER}`,
  NETWORK_ERRORS: 'KMS cannot reach the cluster: the cluster\'s security group must allow TCP 2223-2225 from itself, and the subnets\' network ACLs must allow it too',
  SUBNET_NOT_FOUND: 'a subnet of the cluster\'s configuration was deleted: create a cluster from a recent backup and point the store at it (clusterId)',
  USER_LOCKED_OUT: `kmsuser is locked out after too many failed logins. ${RESET_KMSUSER}`,
  USER_LOGGED_IN: 'kmsuser is logged in to the cluster, so KMS cannot log in and rotate its password: log it out of the CloudHSM CLI (logout), then connect the store again (aws kms connect-custom-key-store); a new kmsUserPasswordVersion would send the secret\'s password, which KMS replaced at its last connection',
  USER_NOT_FOUND: 'there is no kmsuser crypto user on the cluster: create it on the cluster with the CloudHSM CLI (user create --username kmsuser --role crypto-user), store its password in the password secret, and deploy with a new kmsUserPasswordVersion',
};

/** The KMS and Secrets Manager errors the handlers meet, as what to do. */
const API_ERRORS: Record<string, string> = {
  CloudHsmClusterInUseException: 'the cluster (or one of its backup lineage) already backs another custom key store: KMS allows one store per cluster',
  CloudHsmClusterInvalidConfigurationException: 'the cluster is not set up as KMS needs: two active HSMs in different Availability Zones, and a security group that allows TCP 2223-2225 from itself',
  CloudHsmClusterNotActiveException: 'the cluster is not ACTIVE: initialize it (InitializeCluster with its signed certificate) and activate it with the CloudHSM CLI (cluster activate), then create the kmsuser crypto user',
  CloudHsmClusterNotFoundException: 'there is no such cluster in this account and Region',
  CloudHsmClusterNotRelatedException: 'the new cluster is not of the same backup lineage as the store\'s: a store may move only to a cluster made from a backup of its cluster',
  CustomKeyStoreNameInUseException: 'another custom key store of the account and Region has this name',
  CustomKeyStoreNotFoundException: 'the custom key store no longer exists',
  CustomKeyStoreInvalidStateException: 'the custom key store is not in a state that allows this (a key is created only in a CONNECTED store; most updates need it DISCONNECTED)',
  CustomKeyStoreHasCMKsException: 'the custom key store still holds keys',
  IncorrectTrustAnchorException: 'trustAnchorCertificate is not the certificate the cluster was initialized with (customerCA.crt)',
  LimitExceededException: 'a KMS quota of the account and Region is reached (custom key stores, or keys)',
  MalformedPolicyDocumentException: 'KMS refused the key policy (a principal it names may not exist yet)',
  DependencyTimeoutException: 'KMS could not answer in time; this is transient, retry the deployment',
  KMSInternalException: 'KMS failed internally; this is transient, retry the deployment',
  ThrottlingException: 'the request was throttled; retry the deployment',
  ResourceNotFoundException: 'the kmsUserPassword secret does not exist (or has no current value)',
  DecryptionFailure: 'Secrets Manager could not decrypt the kmsUserPassword secret with its KMS key: the handler\'s role needs kms:Decrypt on that key through Secrets Manager',
  AccessDeniedException: 'the handler\'s role may not make this call; check for a service control policy or permissions boundary that denies it',
};

/** An AWS SDK error of the key store and HSM key handlers as what to do. */
export function explain(error: unknown): string {
  return explainAwsError(error, API_ERRORS);
}

