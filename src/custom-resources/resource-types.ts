/*
 * The custom resource types of the library: written by the constructs, and checked by
 * each handler against CloudFormation's record of the event's resource. Bundled into
 * the handlers (no AWS SDK or aws-cdk-lib import here).
 */

/** A CustomKeyStore. */
export const KEY_STORE_TYPE = 'Custom::KmsCustomKeyStore';
/** A key in a CloudHSM key store. */
export const HSM_KEY_TYPE = 'Custom::KmsHsmKey';
/** The HSMs of a CloudHsmCluster. */
export const CLUSTER_HSMS_TYPE = 'Custom::CloudHsmHsms';
/** The initialization of a CloudHsmCluster. */
export const CLUSTER_INITIALIZATION_TYPE = 'Custom::CloudHsmClusterInitialization';
/** A KMS grant of a KeyGrant. */
export const KEY_GRANT_TYPE = 'Custom::KmsKeyGrant';
/** The lookup of a MultiRegionKeySet's primary key, in each replica stack. */
export const PRIMARY_KEY_LOOKUP_TYPE = 'Custom::KmsPrimaryKeyLookup';

/**
 * The tag on a CloudHsmCluster naming the stack that made it: the HSMs handler empties
 * a cluster an update replaced only if it carries its own stack's ID.
 */
export const CLUSTER_STACK_TAG = 'cdk-kms-constructs:stack-id';

/** The environment variable that gives each handler the ID of its stack. */
export const STACK_ID_VARIABLE = 'STACK_ID';
