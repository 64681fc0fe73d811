/*
 * The CloudWatch Logs Insights queries KeyComplianceEvidence saves on the account's
 * CloudTrail log group: the evidence auditors ask for, read from CloudTrail records
 * as the trail delivers them to CloudWatch Logs (one JSON record per event, arrays
 * flattened as `resources.0.ARN`).
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/logging-using-cloudtrail.html
 */

/** A saved query: its name under the evidence folder, what it answers, and its text. */
export interface EvidenceQuery {
  /** The query's name in the folder, such as `key-usage`. */
  readonly name: string;
  /** What the query answers, for the README and the inventory. */
  readonly answers: string;
  /** The Logs Insights query. */
  readonly queryString: string;
}

/** The KMS calls that use a key's material (cryptographic operations). */
export const KEY_USE_EVENTS = [
  'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext', 'ReEncrypt', 'Sign', 'Verify', 'GenerateMac', 'VerifyMac', 'DeriveSharedSecret',
  'Encapsulate', 'Decapsulate',
];
/** Changes to who may use a key: its policy and its grants. */
export const POLICY_AND_GRANT_EVENTS = ['PutKeyPolicy', 'CreateGrant', 'RetireGrant', 'RevokeGrant'];
/** A key's end of life, and its return from it. */
export const LIFECYCLE_EVENTS = ['ScheduleKeyDeletion', 'CancelKeyDeletion', 'DisableKey', 'EnableKey', 'DeleteImportedKeyMaterial'];
/** Rotation: KMS's own (`RotateKey`, an AWS service event), on demand, and its settings. */
export const ROTATION_EVENTS = ['RotateKey', 'RotateKeyOnDemand', 'EnableKeyRotation', 'DisableKeyRotation', 'ImportKeyMaterial'];

/**
 * Who made a call: the role behind a role session, or the identity itself (a user,
 * the root user, an AWS service), or for another account's caller, which the key's
 * account sees without an ARN, that account.
 * @see https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
 */
const PRINCIPAL = 'coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn, userIdentity.invokedBy, userIdentity.accountId) as principal';
/**
 * The AWS service a call came through, or for a direct call the caller's address:
 * CloudTrail records the service's name in both fields when a service calls for a
 * principal, and every record has a source address.
 */
const VIA = 'coalesce(userIdentity.invokedBy, sourceIPAddress) as via';
/** The key a call names: KMS records it as the first resource. */
const KEY = 'resources.0.ARN as keyArn';

function list(names: string[]): string {
  return `[${names.map(n => `"${n}"`).join(', ')}]`;
}

function kmsCalls(names: string[]): string {
  return `filter eventSource = "kms.amazonaws.com" and eventName in ${list(names)}`;
}

/** The queries saved for every key of the account (the trail records every Region's). */
export const EVIDENCE_QUERIES: EvidenceQuery[] = [
  {
    name: 'key-usage',
    answers: 'who used which key, through which AWS service, how often and when last',
    queryString: [
      `fields ${KEY}, ${PRINCIPAL}, ${VIA}`,
      `${kmsCalls(KEY_USE_EVENTS)} and not ispresent(errorCode)`,
      'stats count(*) as calls, max(@timestamp) as lastCall by keyArn, principal, via',
      'sort calls desc',
    ].join('\n| '),
  },
  {
    name: 'denied-requests',
    answers: 'requests KMS denied, by principal, call and key',
    queryString: [
      `fields ${KEY}, ${PRINCIPAL}, ${VIA}`,
      'filter eventSource = "kms.amazonaws.com" and errorCode like /AccessDenied/',
      'stats count(*) as denied, max(@timestamp) as lastDenied by principal, eventName, keyArn, via',
      'sort denied desc',
    ].join('\n| '),
  },
  {
    name: 'policy-and-grant-changes',
    answers: 'key policy changes and grants created, retired or revoked, with who and whether it succeeded',
    queryString: [
      `fields @timestamp, eventName, ${KEY}, ${PRINCIPAL}, ${VIA}, requestParameters.granteePrincipal as grantee,`
        // RetireGrant records the grant in additionalEventData.
        + ' coalesce(responseElements.grantId, requestParameters.grantId, additionalEventData.grantId) as grantId, errorCode',
      kmsCalls(POLICY_AND_GRANT_EVENTS),
      'sort @timestamp desc',
    ].join('\n| '),
  },
  {
    name: 'deletions-and-disabling',
    answers: 'keys scheduled for deletion (and cancelled), disabled or enabled, and imported material deleted',
    queryString: [
      `fields @timestamp, eventName, ${KEY}, ${PRINCIPAL}, requestParameters.pendingWindowInDays as pendingWindowInDays,`
        + ' responseElements.deletionDate as deletionDate, errorCode',
      kmsCalls(LIFECYCLE_EVENTS),
      'sort @timestamp desc',
    ].join('\n| '),
  },
  {
    name: 'rotations',
    answers: 'rotations by KMS and on demand, rotation turned on or off, and material imported',
    queryString: [
      `fields @timestamp, eventName, ${KEY}, ${PRINCIPAL}, requestParameters.rotationPeriodInDays as rotationPeriodInDays, errorCode`,
      kmsCalls(ROTATION_EVENTS),
      'sort @timestamp desc',
    ].join('\n| '),
  },
];

/**
 * The usage query of one key, named by its ARN: who used it, through which service.
 * ReEncrypt names the source key first and the destination key second. The ARN may
 * be a deploy-time token; the query is rendered when the template is.
 */
export function keyUsageQuery(keyArn: string): string {
  return [
    `fields ${PRINCIPAL}, ${VIA}`,
    `${kmsCalls(KEY_USE_EVENTS)} and not ispresent(errorCode) and (resources.0.ARN = "${keyArn}" or resources.1.ARN = "${keyArn}")`,
    'stats count(*) as calls, min(@timestamp) as firstCall, max(@timestamp) as lastCall by principal, via, eventName',
    'sort calls desc',
  ].join('\n| ');
}
