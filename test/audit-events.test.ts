/*
 * Proves offline that the audit watch counts the right CloudTrail records: the
 * metric filter patterns, with an evaluator of the CloudWatch Logs JSON filter syntax
 * (test/support/filter-pattern.ts), and the EventBridge rule that feeds them, with an
 * evaluator of event patterns (test/support/event-pattern.ts), on records modelled on
 * real KMS CloudTrail events. The per-key filters read the watch's log group, where
 * each record arrives as an EventBridge event (`eventBridgeEvent`); the CIS filter
 * reads the trail's log group, where the records are CloudTrail's own.
 */
import {
  ACCOUNT, ADMIN, APP, HEARTBEAT_ROLE_ARN, Json, KEY_ARN, KEY_ID, KEY_RESOURCES, REGION,
  eventBridgeEvent, heartbeatRecord, kmsEvent, viaService,
} from './support/cloudtrail';
import { matchesEventPattern } from './support/event-pattern';
import { matchesFilterPattern, parseFilterPattern, selectField } from './support/filter-pattern';
import {
  AuditEvent,
  CIS_KEY_DISABLED_OR_DELETED_PATTERN,
  HEARTBEAT_METRICS,
  heartbeatClause,
  KEY_ALIAS_CHANGES,
  KEY_ARN_SELECTOR,
  KEY_DENIED_REQUESTS,
  KEY_EVENTS,
  KEY_POLICY_OR_GRANT_CHANGES,
  KEY_STATE_CHANGES,
  KEY_TAG_CHANGES,
  keyArnsOf,
  ruleEventPattern,
} from '../src/audit/audit-events';

// ---------------------------------------------------------------------------
// CloudTrail records
// ---------------------------------------------------------------------------

const DECRYPT_PARAMETERS = {
  encryptionAlgorithm: 'SYMMETRIC_DEFAULT',
  encryptionContext: { app: 'orders', table: 'payments' },
};

/** Decrypt refused by the key policy and the role's policies. */
const DECRYPT_DENIED = kmsEvent('Decrypt', {
  userIdentity: APP,
  requestParameters: DECRYPT_PARAMETERS,
  readOnly: true,
  errorCode: 'AccessDenied',
  errorMessage: `User: ${APP.arn} is not authorized to perform: kms:Decrypt on resource: ${KEY_ARN} because no resource-based policy allows the kms:Decrypt action`,
});

/** The denied Decrypt with only its error changed, so only `$.errorCode` can decide. */
function decryptFailedWith(errorCode: string, errorMessage: string): Json {
  return { ...DECRYPT_DENIED, errorCode, errorMessage };
}

/** The key the heartbeat describes: another key of the same account and Region. */
const HEARTBEAT_KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/aaaa1111-22bb-33cc-44dd-555555eeeeee`;
const HEARTBEAT_KEY_RESOURCES = [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: HEARTBEAT_KEY_ARN }];

/** DescribeKey of the heartbeat key by someone other than the heartbeat role. */
function describeKeyBy(userIdentity: Json): Json {
  return kmsEvent('DescribeKey', {
    userIdentity,
    requestParameters: { keyId: HEARTBEAT_KEY_ARN },
    readOnly: true,
    resources: HEARTBEAT_KEY_RESOURCES,
  });
}

// ---------------------------------------------------------------------------
// Which pattern counts which event
// ---------------------------------------------------------------------------

/** The keys the watch of ACCOUNT in REGION counts. */
const KEYS = keyArnsOf('aws', REGION, ACCOUNT);
/** The patterns under test, by the name the expectations use. */
const PATTERNS = {
  Cis: CIS_KEY_DISABLED_OR_DELETED_PATTERN,
  KeyStateChanges: KEY_STATE_CHANGES.patternFor(KEYS, HEARTBEAT_ROLE_ARN),
  KeyPolicyOrGrantChanges: KEY_POLICY_OR_GRANT_CHANGES.patternFor(KEYS, HEARTBEAT_ROLE_ARN),
  KeyAliasChanges: KEY_ALIAS_CHANGES.patternFor(KEYS, HEARTBEAT_ROLE_ARN),
  KeyTagChanges: KEY_TAG_CHANGES.patternFor(KEYS, HEARTBEAT_ROLE_ARN),
  KeyDeniedRequests: KEY_DENIED_REQUESTS.patternFor(KEYS, HEARTBEAT_ROLE_ARN),
  // As the watch's HeartbeatFilter writes it (key-event-watch.ts).
  Heartbeat: `{ ${heartbeatClause(HEARTBEAT_ROLE_ARN)} }`,
};
type PatternName = keyof typeof PATTERNS;
/** The per-key events, by the name the expectations use. */
const PER_KEY_EVENTS: Partial<Record<PatternName, AuditEvent>> = {
  KeyStateChanges: KEY_STATE_CHANGES,
  KeyPolicyOrGrantChanges: KEY_POLICY_OR_GRANT_CHANGES,
  KeyAliasChanges: KEY_ALIAS_CHANGES,
  KeyTagChanges: KEY_TAG_CHANGES,
  KeyDeniedRequests: KEY_DENIED_REQUESTS,
};
/** The patterns of metric filters that publish the KeyArn dimension. */
const PER_KEY = Object.keys(PER_KEY_EVENTS) as PatternName[];
/** The filters of the watch's log group: all but the CIS filter, which is on the trail's. */
const WATCH_FILTERS: readonly PatternName[] = (Object.keys(PATTERNS) as PatternName[]).filter(name => name !== 'Cis');

/** What a pattern's filter reads of a record: the record itself on the trail's log group, its EventBridge event on the watch's. */
function logEventFor(name: PatternName, record: Json): Json {
  return name === 'Cis' ? record : eventBridgeEvent(record);
}

function matchingPatterns(record: Json): PatternName[] {
  return (Object.keys(PATTERNS) as PatternName[]).filter(name => matchesFilterPattern(PATTERNS[name], logEventFor(name, record)));
}

/** The ARN a per-key filter publishes as the KeyArn dimension of a record it counts. */
function dimensionOf(name: PatternName, record: Json): unknown {
  return selectField(logEventFor(name, record), PER_KEY_EVENTS[name]!.keyArnSelector ?? KEY_ARN_SELECTOR);
}

interface Case {
  readonly name: string;
  /** The CloudTrail record. */
  readonly event: Json;
  /** The patterns that must match; all others must not. */
  readonly matches: readonly PatternName[];
  /** The key the per-key filters that match must name. @default KEY_ARN */
  readonly keyArn?: string;
}

const HEARTBEAT_PASSES: PatternName[] = ['KeyStateChanges', 'KeyPolicyOrGrantChanges', 'KeyTagChanges', 'KeyDeniedRequests', 'Heartbeat'];

const CASES: readonly Case[] = [
  // Key state changes. The CIS control counts only disabling and scheduled deletion.
  {
    name: 'DisableKey',
    event: kmsEvent('DisableKey'),
    matches: ['Cis', 'KeyStateChanges'],
  },
  {
    name: 'ScheduleKeyDeletion',
    event: kmsEvent('ScheduleKeyDeletion', {
      requestParameters: { keyId: KEY_ID, pendingWindowInDays: 30 },
      responseElements: { keyId: KEY_ARN, deletionDate: 'May 31, 2024, 12:00:00 AM', keyState: 'PendingDeletion', pendingWindowInDays: 30 },
    }),
    matches: ['Cis', 'KeyStateChanges'],
  },
  {
    name: 'DisableKeyRotation',
    event: kmsEvent('DisableKeyRotation'),
    matches: ['KeyStateChanges'],
  },
  {
    name: 'DeleteImportedKeyMaterial',
    event: kmsEvent('DeleteImportedKeyMaterial'),
    matches: ['KeyStateChanges'],
  },

  // Events that undo a state change or just use the key.
  {
    name: 'EnableKey',
    event: kmsEvent('EnableKey'),
    matches: [],
  },
  {
    name: 'CancelKeyDeletion',
    event: kmsEvent('CancelKeyDeletion', { responseElements: { keyId: KEY_ARN } }),
    matches: [],
  },
  {
    name: 'Decrypt (success)',
    event: kmsEvent('Decrypt', { userIdentity: APP, requestParameters: DECRYPT_PARAMETERS, readOnly: true }),
    matches: [],
  },
  {
    name: 'GenerateDataKey (success)',
    event: kmsEvent('GenerateDataKey', {
      userIdentity: APP,
      requestParameters: { keyId: 'alias/orders', keySpec: 'AES_256', encryptionContext: DECRYPT_PARAMETERS.encryptionContext },
      readOnly: true,
    }),
    matches: [],
  },
  {
    name: 'GenerateDataKey invoked by S3 for SSE-KMS',
    event: kmsEvent('GenerateDataKey', {
      ...viaService('s3.amazonaws.com'),
      requestParameters: { keyId: KEY_ARN, keySpec: 'AES_256', encryptionContext: { 'aws:s3:arn': 'arn:aws:s3:::orders-bucket/2024/05/01/order.json' } },
      readOnly: true,
    }),
    matches: [],
  },
  {
    name: 'DeleteKey (AwsServiceEvent when the waiting period ends)',
    event: kmsEvent('DeleteKey', {
      userIdentity: { accountId: ACCOUNT, invokedBy: 'kms.amazonaws.com' },
      sourceIPAddress: 'kms.amazonaws.com',
      userAgent: 'kms.amazonaws.com',
      requestParameters: null,
      responseElements: null,
      additionalEventData: { keyId: KEY_ID },
      eventType: 'AwsServiceEvent',
      tlsDetails: undefined,
    }),
    matches: [],
  },

  // Key policy and grants.
  {
    name: 'PutKeyPolicy by a user',
    event: kmsEvent('PutKeyPolicy', {
      requestParameters: {
        keyId: KEY_ID,
        policyName: 'default',
        policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }] }),
        bypassPolicyLockoutSafetyCheck: false,
      },
    }),
    matches: ['KeyPolicyOrGrantChanges'],
  },
  {
    name: 'CreateGrant by a user (no invokedBy)',
    event: kmsEvent('CreateGrant', {
      requestParameters: {
        keyId: KEY_ARN,
        granteePrincipal: `arn:aws:iam::${ACCOUNT}:role/BatchRole`,
        operations: ['Decrypt', 'GenerateDataKey'],
      },
      responseElements: { grantId: '0ab0ac0d0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e', keyId: KEY_ARN },
    }),
    matches: ['KeyPolicyOrGrantChanges'],
  },
  {
    name: "CreateGrant invoked by EC2 for an EBS volume (invokedBy 'ec2.amazonaws.com')",
    event: kmsEvent('CreateGrant', {
      ...viaService('ec2.amazonaws.com'),
      requestParameters: {
        keyId: KEY_ARN,
        granteePrincipal: `arn:aws:sts::${ACCOUNT}:assumed-role/aws:ec2-infrastructure/i-0abcd1234efgh5678`,
        constraints: { encryptionContextSubset: { 'aws:ebs:id': 'vol-0123456789abcdef0' } },
        operations: ['Decrypt'],
      },
      responseElements: { grantId: '1ab0ac0d0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e', keyId: KEY_ARN },
    }),
    matches: [],
  },
  {
    name: "CreateGrant invoked by an AWS service (invokedBy 'AWS Internal')",
    event: kmsEvent('CreateGrant', {
      ...viaService('AWS Internal'),
      requestParameters: {
        keyId: KEY_ARN,
        granteePrincipal: `rds.${REGION}.amazonaws.com`,
        retiringPrincipal: `rds.${REGION}.amazonaws.com`,
        operations: ['Decrypt', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo', 'CreateGrant', 'DescribeKey'],
      },
      responseElements: { grantId: '2ab0ac0d0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e', keyId: KEY_ARN },
    }),
    matches: [],
  },
  {
    name: 'RevokeGrant by a user',
    event: kmsEvent('RevokeGrant', {
      requestParameters: { keyId: KEY_ARN, grantId: '0ab0ac0d0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e' },
    }),
    matches: ['KeyPolicyOrGrantChanges'],
  },
  {
    name: 'RetireGrant by the service that created the grant',
    event: kmsEvent('RetireGrant', {
      ...viaService('ec2.amazonaws.com'),
      requestParameters: { keyId: KEY_ARN, grantId: '1ab0ac0d0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e' },
    }),
    matches: [],
  },

  // Aliases and tags: aliases send encryption to a key, tags drive access control.
  // Records as in the KMS developer guide: alias records list the key and the alias
  // in either order (or the alias alone) and name the key in responseElements.keyId.
  {
    name: 'CreateAlias (the key listed first)',
    event: kmsEvent('CreateAlias', {
      requestParameters: { aliasName: 'alias/payments', targetKeyId: KEY_ID },
      responseElements: { keyId: KEY_ARN },
      resources: [...KEY_RESOURCES, { accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: `arn:aws:kms:${REGION}:${ACCOUNT}:alias/payments` }],
    }),
    matches: ['KeyAliasChanges'],
  },
  {
    name: 'UpdateAlias (the alias listed first): an alias moved to the key',
    event: kmsEvent('UpdateAlias', {
      requestParameters: { aliasName: 'alias/payments', targetKeyId: KEY_ID },
      responseElements: { keyId: KEY_ARN },
      resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: `arn:aws:kms:${REGION}:${ACCOUNT}:alias/payments` }, ...KEY_RESOURCES],
    }),
    matches: ['KeyAliasChanges'],
  },
  {
    name: 'DeleteAlias (only the alias listed)',
    event: kmsEvent('DeleteAlias', {
      requestParameters: { aliasName: 'alias/payments' },
      responseElements: { keyId: KEY_ARN },
      resources: [{ accountId: ACCOUNT, ARN: `arn:aws:kms:${REGION}:${ACCOUNT}:alias/payments` }],
    }),
    matches: ['KeyAliasChanges'],
  },
  {
    name: 'UpdateAlias moving an alias to a key of another Region\'s trail',
    event: kmsEvent('UpdateAlias', {
      awsRegion: 'eu-west-1',
      requestParameters: { aliasName: 'alias/payments', targetKeyId: KEY_ID },
      responseElements: { keyId: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/${KEY_ID}` },
      resources: [{ accountId: ACCOUNT, ARN: `arn:aws:kms:eu-west-1:${ACCOUNT}:alias/payments` }],
    }),
    matches: [],
  },
  {
    name: 'TagResource',
    event: kmsEvent('TagResource', {
      requestParameters: { keyId: KEY_ARN, tags: [{ tagKey: 'data-classification', tagValue: 'public' }] },
      responseElements: null,
    }),
    matches: ['KeyTagChanges'],
  },
  {
    name: 'UntagResource',
    event: kmsEvent('UntagResource', { requestParameters: { keyId: KEY_ARN, tagKeys: ['data-classification'] }, responseElements: null }),
    matches: ['KeyTagChanges'],
  },
  {
    name: 'TagResource denied (a denied request, not a tag change)',
    event: kmsEvent('TagResource', {
      userIdentity: APP,
      requestParameters: { keyId: KEY_ARN, tags: [{ tagKey: 'data-classification', tagValue: 'public' }] },
      errorCode: 'AccessDenied',
      errorMessage: `User: ${APP.arn} is not authorized to perform: kms:TagResource on resource: ${KEY_ARN}`,
    }),
    matches: ['KeyDeniedRequests'],
  },

  // Denied requests.
  {
    name: "Decrypt denied (errorCode 'AccessDenied')",
    event: DECRYPT_DENIED,
    matches: ['KeyDeniedRequests'],
  },
  {
    name: "Decrypt denied (errorCode 'AccessDeniedException')",
    event: decryptFailedWith('AccessDeniedException', `User: ${APP.arn} is not authorized to perform: kms:Decrypt on resource: ${KEY_ARN}`),
    matches: ['KeyDeniedRequests'],
  },
  {
    name: "Decrypt failed with 'NotFoundException' (key named, as in the denied record)",
    event: decryptFailedWith('NotFoundException', `Key '${KEY_ARN}' does not exist`),
    matches: [],
  },
  {
    name: "Decrypt failed with 'NotFoundException' (no resources, the usual shape)",
    event: kmsEvent('Decrypt', {
      userIdentity: APP,
      requestParameters: { ...DECRYPT_PARAMETERS, keyId: `arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-0000-0000-000000000000` },
      readOnly: true,
      errorCode: 'NotFoundException',
      errorMessage: `Key 'arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-0000-0000-000000000000' does not exist`,
      resources: undefined,
    }),
    matches: [],
  },
  {
    name: "Decrypt failed with 'InvalidCiphertextException'",
    event: decryptFailedWith('InvalidCiphertextException', ''),
    matches: [],
  },
  {
    name: "Decrypt failed with 'DisabledException'",
    event: decryptFailedWith('DisabledException', `${KEY_ARN} is disabled.`),
    matches: [],
  },
  {
    // A refused attempt is a denied request, not a state change; the CIS control
    // counts attempts by design.
    name: 'DisableKey denied (a denied request, not a state change)',
    event: kmsEvent('DisableKey', {
      userIdentity: APP,
      errorCode: 'AccessDenied',
      errorMessage: `User: ${APP.arn} is not authorized to perform: kms:DisableKey on resource: ${KEY_ARN} because no identity-based policy allows the kms:DisableKey action`,
    }),
    matches: ['Cis', 'KeyDeniedRequests'],
  },
  {
    name: 'PutKeyPolicy denied (a denied request, not a policy change)',
    event: kmsEvent('PutKeyPolicy', {
      userIdentity: APP,
      errorCode: 'AccessDenied',
      errorMessage: `User: ${APP.arn} is not authorized to perform: kms:PutKeyPolicy on resource: ${KEY_ARN}`,
    }),
    matches: ['KeyDeniedRequests'],
  },
  {
    name: 'a denied alias call whose first resource is the alias',
    event: kmsEvent('DeleteAlias', {
      userIdentity: APP,
      errorCode: 'AccessDenied',
      resources: [
        { accountId: ACCOUNT, type: 'AWS::KMS::Alias', ARN: `arn:aws:kms:us-east-1:${ACCOUNT}:alias/payments` },
        ...KEY_RESOURCES,
      ],
    }),
    matches: [],
  },

  // Other services.
  {
    name: 'S3 PutBucketPolicy',
    event: kmsEvent('PutBucketPolicy', {
      eventSource: 's3.amazonaws.com',
      requestParameters: { bucketName: 'orders-bucket', Host: 'orders-bucket.s3.amazonaws.com', policy: '' },
      resources: [{ accountId: ACCOUNT, type: 'AWS::S3::Bucket', ARN: 'arn:aws:s3:::orders-bucket' }],
    }),
    matches: [],
  },
  {
    name: "an event named 'DisableKey' from another service, naming a key",
    event: kmsEvent('DisableKey', { eventSource: 's3.amazonaws.com' }),
    matches: [],
  },
  {
    name: 'S3 GetObject denied',
    event: kmsEvent('GetObject', {
      eventSource: 's3.amazonaws.com',
      userIdentity: APP,
      requestParameters: { bucketName: 'orders-bucket', key: 'order.json' },
      errorCode: 'AccessDenied',
      errorMessage: 'Access Denied',
      resources: [{ type: 'AWS::S3::Object', ARN: 'arn:aws:s3:::orders-bucket/order.json' }],
    }),
    matches: [],
  },

  // KMS events that name no key.
  {
    name: 'ListKeys (no resources)',
    event: kmsEvent('ListKeys', { requestParameters: null, readOnly: true, resources: undefined }),
    matches: [],
  },
  {
    name: 'CreateKey (no resources)',
    event: kmsEvent('CreateKey', {
      requestParameters: { keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT', origin: 'AWS_KMS', multiRegion: false },
      responseElements: { keyMetadata: { keyId: KEY_ID, arn: KEY_ARN, keyState: 'Enabled' } },
      resources: undefined,
    }),
    matches: [],
  },
  {
    name: 'DisableKey without resources: the CIS pattern still counts it, per-key patterns do not',
    event: kmsEvent('DisableKey', { resources: undefined }),
    matches: ['Cis'],
  },
  {
    name: 'ListKeys denied without resources',
    event: kmsEvent('ListKeys', {
      userIdentity: APP,
      requestParameters: null,
      readOnly: true,
      errorCode: 'AccessDenied',
      errorMessage: `User: ${APP.arn} is not authorized to perform: kms:ListKeys on resource: * because no identity-based policy allows the kms:ListKeys action`,
      resources: undefined,
    }),
    matches: [],
  },
  // Whose keys: this trail counts the keys of its own account and Region. A
  // multi-Region trail also records the other Regions' events, which their own
  // Region's trail counts; the CIS pattern counts them all, as the control asks.
  {
    name: 'DisableKey of a key in another Region',
    event: kmsEvent('DisableKey', {
      awsRegion: 'eu-west-1',
      resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/${KEY_ID}` }],
    }),
    matches: ['Cis'],
  },
  {
    name: 'PutKeyPolicy on a key of another account (a cross-account call recorded here)',
    event: kmsEvent('PutKeyPolicy', {
      resources: [{ accountId: '222222222222', type: 'AWS::KMS::Key', ARN: `arn:aws:kms:${REGION}:222222222222:key/${KEY_ID}` }],
    }),
    matches: [],
  },
  {
    name: 'DisableKey recorded without a resource type, as in the KMS developer guide',
    event: kmsEvent('DisableKey', { resources: [{ accountId: ACCOUNT, ARN: KEY_ARN }] }),
    matches: ['Cis', 'KeyStateChanges'],
  },
  {
    name: 'DisableKey with an empty resources list',
    event: kmsEvent('DisableKey', { resources: [] }),
    matches: ['Cis'],
  },

  // The watch's heartbeat: the schedule's DescribeKey of the heartbeat key, as the
  // heartbeat role, passes every per-key filter but the alias filter, as an event of
  // that key, and the heartbeat filter. Nobody else's DescribeKey counts.
  {
    name: 'the heartbeat: DescribeKey by the heartbeat role',
    event: heartbeatRecord(HEARTBEAT_KEY_ARN),
    matches: HEARTBEAT_PASSES,
    keyArn: HEARTBEAT_KEY_ARN,
  },
  {
    name: 'DescribeKey of the heartbeat key by a person',
    event: describeKeyBy(ADMIN),
    matches: [],
  },
  {
    name: 'DescribeKey of the heartbeat key by an application',
    event: describeKeyBy(APP),
    matches: [],
  },
  {
    name: 'DescribeKey by a role whose name starts with the heartbeat role\'s',
    event: heartbeatRecord(HEARTBEAT_KEY_ARN, `${HEARTBEAT_ROLE_ARN}Copy`),
    matches: [],
  },
  {
    name: 'the heartbeat denied (a denied request of the heartbeat key, no heartbeat)',
    event: heartbeatRecord(HEARTBEAT_KEY_ARN, HEARTBEAT_ROLE_ARN, {
      errorCode: 'AccessDenied',
      errorMessage: `User: arn:aws:sts::${ACCOUNT}:assumed-role/TestStack-KeyAuditTrailHeartbeatRole-1A2B3C4D5E6F/f3a9c2d4e5b6a7c8d9e0f1a2b3c4d5e6 `
        + `is not authorized to perform: kms:DescribeKey on resource: ${HEARTBEAT_KEY_ARN} because no identity-based policy allows the kms:DescribeKey action`,
    }),
    matches: ['KeyDeniedRequests'],
    keyArn: HEARTBEAT_KEY_ARN,
  },
  {
    name: 'the heartbeat failed with \'NotFoundException\' (the key deleted): nothing counts it',
    event: heartbeatRecord(HEARTBEAT_KEY_ARN, HEARTBEAT_ROLE_ARN, {
      errorCode: 'NotFoundException',
      errorMessage: `Key '${HEARTBEAT_KEY_ARN}' does not exist`,
      resources: undefined,
    }),
    matches: [],
  },
];

describe('audit event patterns', () => {
  // The parts every per-key pattern is made of, spelt out once.
  const KMS = '($.detail.eventSource = kms.amazonaws.com)';
  const OWN_KEY = `($.detail.resources[0].ARN = "arn:aws:kms:${REGION}:${ACCOUNT}:key/*")`;
  const SUCCEEDED = '($.detail.errorCode NOT EXISTS)';
  const HEARTBEAT = `(($.detail.eventName = "DescribeKey") && ($.detail.userIdentity.sessionContext.sessionIssuer.arn = "${HEARTBEAT_ROLE_ARN}") && ${SUCCEEDED})`;
  const names = (...eventNames: string[]) => `(${eventNames.map(n => `($.detail.eventName = ${n})`).join(' || ')})`;

  test('the patterns read EventBridge events of the watch\'s log group, and count the heartbeat', () => {
    expect(PATTERNS.KeyStateChanges).toBe(
      `{ (${KMS} && ${OWN_KEY} && ${SUCCEEDED} && ${names('DisableKey', 'ScheduleKeyDeletion', 'DisableKeyRotation', 'DeleteImportedKeyMaterial')}) || ${HEARTBEAT} }`);
    expect(PATTERNS.KeyPolicyOrGrantChanges).toBe(
      `{ (${KMS} && ${OWN_KEY} && ${SUCCEEDED} && (($.detail.eventName = PutKeyPolicy) || ($.detail.eventName = RevokeGrant) `
      + '|| (($.detail.eventName = CreateGrant) && ($.detail.userIdentity.invokedBy NOT EXISTS)))) '
      + `|| ${HEARTBEAT} }`);
    expect(PATTERNS.KeyAliasChanges).toBe(
      `{ ${KMS} && ($.detail.responseElements.keyId = "arn:aws:kms:${REGION}:${ACCOUNT}:key/*") && ${SUCCEEDED} && ${names('CreateAlias', 'UpdateAlias', 'DeleteAlias')} }`);
    expect(PATTERNS.KeyTagChanges).toBe(`{ (${KMS} && ${OWN_KEY} && ${SUCCEEDED} && ${names('TagResource', 'UntagResource')}) || ${HEARTBEAT} }`);
    expect(PATTERNS.KeyDeniedRequests).toBe(`{ (${KMS} && ${OWN_KEY} && ($.detail.errorCode = "AccessDenied*")) || ${HEARTBEAT} }`);
    expect(PATTERNS.Heartbeat).toBe(`{ ${HEARTBEAT} }`);
    // Security Hub CloudWatch.7 wants this exact text on the trail's log group.
    expect(PATTERNS.Cis).toBe('{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}');
  });

  test('the patterns under test are those the watch creates', () => {
    expect(KEY_EVENTS.map(e => e.patternFor(KEYS, HEARTBEAT_ROLE_ARN))).toEqual([
      PATTERNS.KeyStateChanges,
      PATTERNS.KeyPolicyOrGrantChanges,
      PATTERNS.KeyAliasChanges,
      PATTERNS.KeyTagChanges,
      PATTERNS.KeyDeniedRequests,
    ]);
  });

  test.each(Object.entries(PATTERNS))('%s parses within the supported syntax', (_name, pattern) => {
    expect(() => parseFilterPattern(pattern)).not.toThrow();
  });

  test.each(CASES)('$name matches exactly $matches', ({ event, matches }) => {
    // Sorted in the order of PATTERNS, so the comparison ignores the order in a case.
    const expected = (Object.keys(PATTERNS) as PatternName[]).filter(name => matches.includes(name));
    expect(matchingPatterns(event)).toEqual(expected);
  });

  test('each filter reads its own log group: the watch\'s patterns count no plain CloudTrail record, the CIS pattern no EventBridge event', () => {
    for (const { event } of CASES) {
      for (const name of WATCH_FILTERS) expect([name, matchesFilterPattern(PATTERNS[name], event)]).toEqual([name, false]);
      expect(matchesFilterPattern(PATTERNS.Cis, eventBridgeEvent(event))).toBe(false);
    }
  });

  const perKeyMatches = CASES.filter(c => c.matches.some(name => PER_KEY.includes(name)));

  test('some cases match a per-key pattern', () => {
    expect(perKeyMatches.length).toBeGreaterThanOrEqual(10);
  });

  test.each(perKeyMatches)('$name: the KeyArn dimension of each filter that counts it is the key ARN', ({ event, matches, keyArn }) => {
    for (const name of matches.filter(m => PER_KEY.includes(m))) {
      expect([name, dimensionOf(name, event)]).toEqual([name, keyArn ?? KEY_ARN]);
    }
  });

  test('every event a per-key pattern counts names a key ARN where that filter reads its dimension', () => {
    for (const { event } of CASES) {
      for (const name of PER_KEY.filter(n => matchesFilterPattern(PATTERNS[n], eventBridgeEvent(event)))) {
        expect(dimensionOf(name, event)).toMatch(/^arn:aws:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/);
      }
    }
  });

  test('alias and tag changes count in one metric', () => {
    expect(KEY_ALIAS_CHANGES.metricName).toBe(KEY_TAG_CHANGES.metricName);
  });
});

describe('the heartbeat', () => {
  const heartbeat = heartbeatRecord(HEARTBEAT_KEY_ARN);

  test('passes every per-key filter but KeyAliasChanges, the events marked `heartbeat`, as an event of the heartbeat key', () => {
    const passed = KEY_EVENTS.filter(e => matchesFilterPattern(e.patternFor(KEYS, HEARTBEAT_ROLE_ARN), eventBridgeEvent(heartbeat)));
    expect(passed.map(e => e.id)).toEqual(['KeyStateChanges', 'KeyPolicyOrGrantChanges', 'KeyTagChanges', 'KeyDeniedRequests']);
    expect(passed).toEqual(KEY_EVENTS.filter(e => e.heartbeat));
    for (const event of passed) {
      expect([event.id, selectField(eventBridgeEvent(heartbeat), event.keyArnSelector ?? KEY_ARN_SELECTOR)]).toEqual([event.id, HEARTBEAT_KEY_ARN]);
    }
    // Once in each metric the heartbeat alarms watch.
    expect([...new Set(passed.map(e => e.metricName))].sort()).toEqual([...HEARTBEAT_METRICS].sort());
    expect(passed.map(e => e.metricName)).toHaveLength(HEARTBEAT_METRICS.length);
  });

  test('passes the heartbeat filter; the heartbeat of another role does not', () => {
    expect(matchesFilterPattern(PATTERNS.Heartbeat, eventBridgeEvent(heartbeat))).toBe(true);
    const other = `arn:aws:iam::${ACCOUNT}:role/OtherStack-KeyAuditTrailHeartbeatRole-6F5E4D3C2B1A`;
    expect(matchesFilterPattern(PATTERNS.Heartbeat, eventBridgeEvent(heartbeatRecord(HEARTBEAT_KEY_ARN, other)))).toBe(false);
  });

  test.each([
    ['a person', ADMIN],
    ['an application', APP],
    ['an AWS service for a user', viaService('ec2.amazonaws.com').userIdentity],
  ])('DescribeKey of the heartbeat key by %s passes no filter', (_who, identity) => {
    expect(matchingPatterns(describeKeyBy(identity as Json))).toEqual([]);
  });

  test('a denied DescribeKey by the heartbeat role is a denied request of the heartbeat key, and nothing else', () => {
    const refused = heartbeatRecord(HEARTBEAT_KEY_ARN, HEARTBEAT_ROLE_ARN, { errorCode: 'AccessDenied', errorMessage: 'not authorized' });
    expect(matchingPatterns(refused)).toEqual(['KeyDeniedRequests']);
    expect(dimensionOf('KeyDeniedRequests', refused)).toBe(HEARTBEAT_KEY_ARN);
  });
});

// ---------------------------------------------------------------------------
// The watch's EventBridge rule
// ---------------------------------------------------------------------------

/** The KMS API operations, as CloudTrail names their events. */
const KMS_OPERATIONS = [
  'CancelKeyDeletion', 'ConnectCustomKeyStore', 'CreateAlias', 'CreateCustomKeyStore', 'CreateGrant', 'CreateKey', 'Decrypt', 'DeleteAlias',
  'DeleteCustomKeyStore', 'DeleteImportedKeyMaterial', 'DeriveSharedSecret', 'DescribeCustomKeyStores', 'DescribeKey', 'DisableKey',
  'DisableKeyRotation', 'DisconnectCustomKeyStore', 'EnableKey', 'EnableKeyRotation', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext', 'GenerateDataKeyWithoutPlaintext', 'GenerateMac', 'GenerateRandom', 'GetKeyPolicy',
  'GetKeyRotationStatus', 'GetParametersForImport', 'GetPublicKey', 'ImportKeyMaterial', 'ListAliases', 'ListGrants', 'ListKeyPolicies',
  'ListKeyRotations', 'ListKeys', 'ListResourceTags', 'ListRetirableGrants', 'PutKeyPolicy', 'ReEncrypt', 'ReplicateKey', 'RetireGrant',
  'RevokeGrant', 'RotateKeyOnDemand', 'ScheduleKeyDeletion', 'Sign', 'TagResource', 'UntagResource', 'UpdateAlias', 'UpdateCustomKeyStore',
  'UpdateKeyDescription', 'UpdatePrimaryRegion', 'Verify', 'VerifyMac',
];

describe('the watch\'s rule', () => {
  const RULE = ruleEventPattern(HEARTBEAT_ROLE_ARN);
  const passesRule = (record: Json) => matchesEventPattern(RULE, eventBridgeEvent(record));
  const countedByWatch = CASES.filter(c => c.matches.some(name => WATCH_FILTERS.includes(name)));

  test('some cases are counted by a filter of the watch', () => {
    expect(countedByWatch.length).toBeGreaterThanOrEqual(10);
  });

  test.each(countedByWatch)('$name passes the rule: the rule drops nothing a filter counts', ({ event }) => {
    expect(passesRule(event)).toBe(true);
  });

  test('the heartbeat passes the rule, and so does its refusal, a denied request', () => {
    expect(passesRule(heartbeatRecord(HEARTBEAT_KEY_ARN))).toBe(true);
    expect(passesRule(heartbeatRecord(HEARTBEAT_KEY_ARN, HEARTBEAT_ROLE_ARN, { errorCode: 'AccessDenied' }))).toBe(true);
  });

  test.each<[string, Json]>([
    ['a Decrypt that succeeded', kmsEvent('Decrypt', { userIdentity: APP, requestParameters: DECRYPT_PARAMETERS, readOnly: true })],
    ['an Encrypt that succeeded', kmsEvent('Encrypt', { userIdentity: APP, requestParameters: { keyId: KEY_ARN, encryptionAlgorithm: 'SYMMETRIC_DEFAULT' }, readOnly: true })],
    ['a GenerateDataKey that succeeded', kmsEvent('GenerateDataKey', { userIdentity: APP, requestParameters: { keyId: KEY_ARN, keySpec: 'AES_256' }, readOnly: true })],
    ['a GenerateDataKey S3 made for a user', kmsEvent('GenerateDataKey', { ...viaService('s3.amazonaws.com'), readOnly: true })],
    ['a DescribeKey by a person', describeKeyBy(ADMIN)],
    ['a DescribeKey by an application', describeKeyBy(APP)],
    ['a DescribeKey by a role named like the heartbeat role', heartbeatRecord(HEARTBEAT_KEY_ARN, `${HEARTBEAT_ROLE_ARN}Copy`)],
    ['a Decrypt that failed with InvalidCiphertextException', decryptFailedWith('InvalidCiphertextException', '')],
    ['an S3 PutBucketPolicy', kmsEvent('PutBucketPolicy', { eventSource: 's3.amazonaws.com', requestParameters: { bucketName: 'orders-bucket' }, resources: undefined })],
    ['an S3 GetObject denied', kmsEvent('GetObject', { eventSource: 's3.amazonaws.com', errorCode: 'AccessDenied', resources: undefined })],
    ['an event named DisableKey from another service', kmsEvent('DisableKey', { eventSource: 's3.amazonaws.com' })],
  ])('%s does not pass the rule', (_name, record) => {
    expect(passesRule(record)).toBe(false);
    // Nor would any filter have counted it.
    expect(matchingPatterns(record).filter(name => name !== 'Cis')).toEqual([]);
  });

  test('over every KMS operation, caller and outcome, the rule passes whatever a filter of the watch counts', () => {
    const callers: Json[] = [
      { userIdentity: ADMIN },
      { userIdentity: APP },
      viaService('ec2.amazonaws.com'),
      { userIdentity: heartbeatRecord(HEARTBEAT_KEY_ARN).userIdentity },
    ];
    const outcomes: Json[] = [
      {},
      { errorCode: 'AccessDenied', errorMessage: 'not authorized' },
      { errorCode: 'AccessDeniedException', errorMessage: 'not authorized' },
      { errorCode: 'NotFoundException', errorMessage: 'does not exist' },
    ];
    const subjects: Json[] = [
      { resources: KEY_RESOURCES, responseElements: { keyId: KEY_ARN } },
      { resources: HEARTBEAT_KEY_RESOURCES, requestParameters: { keyId: HEARTBEAT_KEY_ARN } },
      { resources: undefined },
    ];
    let counted = 0;
    for (const operation of KMS_OPERATIONS) {
      for (const caller of callers) {
        for (const outcome of outcomes) {
          for (const subject of subjects) {
            const record = kmsEvent(operation, { ...caller, ...subject, ...outcome });
            const filters = matchingPatterns(record).filter(name => name !== 'Cis');
            if (filters.length === 0) continue;
            counted++;
            expect([operation, caller, outcome, filters, passesRule(record)]).toEqual([operation, caller, outcome, filters, true]);
          }
        }
      }
    }
    // Changes, denied requests of every operation, and the heartbeat role's DescribeKey.
    expect(counted).toBeGreaterThan(KMS_OPERATIONS.length * 2);
  });

  test('the rule matches the CloudTrail events of KMS only, on the event bus of the Region where the call happened', () => {
    expect(RULE).toMatchObject({ 'source': ['aws.kms'], 'detail-type': ['AWS API Call via CloudTrail'], 'detail': { eventSource: ['kms.amazonaws.com'] } });
    const changed = kmsEvent('PutKeyPolicy');
    expect(matchesEventPattern(RULE, { ...eventBridgeEvent(changed), 'detail-type': 'AWS Service Event via CloudTrail' })).toBe(false);
  });
});

// ---------------------------------------------------------------------------
// The event pattern evaluator itself
// ---------------------------------------------------------------------------

describe('event pattern evaluator', () => {
  const event = {
    'source': 'aws.kms',
    'detail-type': 'AWS API Call via CloudTrail',
    'resources': [],
    'detail': {
      eventName: 'Decrypt',
      errorCode: 'AccessDeniedException',
      count: 5,
      nothing: null,
      flag: true,
      tags: ['red', 'green'],
      items: [{ kind: 'a' }, { kind: 'b', size: 2 }],
      userIdentity: { sessionContext: { sessionIssuer: { arn: 'arn:aws:iam::111111111111:role/Heartbeat' } } },
    },
  };

  const cases: Array<[string, Json, boolean]> = [
    // Exact values, case sensitive, any of the array.
    ['an exact value', { source: ['aws.kms'] }, true],
    ['one of several values', { source: ['aws.s3', 'aws.kms'] }, true],
    ['another value', { source: ['aws.s3'] }, false],
    ['a value in another case', { source: ['AWS.KMS'] }, false],
    ['a part of the value', { source: ['aws'] }, false],
    ['a number', { detail: { count: [5] } }, true],
    ['a number as a string', { detail: { count: ['5'] } }, false],
    ['a boolean', { detail: { flag: [true] } }, true],
    ['null', { detail: { nothing: [null] } }, true],
    // Every field must match; a field the event lacks matches nothing.
    ['two fields', { 'source': ['aws.kms'], 'detail-type': ['AWS API Call via CloudTrail'] }, true],
    ['two fields, one wrong', { 'source': ['aws.kms'], 'detail-type': ['AWS Console Sign In via CloudTrail'] }, false],
    ['a missing field', { detail: { missing: ['x'] } }, false],
    ['a missing parent', { detail: { missing: { deeper: ['x'] } } }, false],
    // prefix.
    ['a prefix', { detail: { errorCode: [{ prefix: 'AccessDenied' }] } }, true],
    ['the whole value as a prefix', { detail: { errorCode: [{ prefix: 'AccessDeniedException' }] } }, true],
    ['another prefix', { detail: { errorCode: [{ prefix: 'NotFound' }] } }, false],
    ['a prefix of a number', { detail: { count: [{ prefix: '5' }] } }, false],
    ['a prefix of a missing field', { detail: { missing: [{ prefix: '' }] } }, false],
    // Nested objects.
    ['a nested value', { detail: { userIdentity: { sessionContext: { sessionIssuer: { arn: ['arn:aws:iam::111111111111:role/Heartbeat'] } } } } }, true],
    ['another nested value', { detail: { userIdentity: { sessionContext: { sessionIssuer: { arn: ['arn:aws:iam::111111111111:role/Other'] } } } } }, false],
    ['an object against a leaf', { detail: { userIdentity: ['x'] } }, false],
    ['a leaf against an object', { detail: { eventName: { deeper: ['x'] } } }, false],
    // Arrays in the event match if any element matches.
    ['an element of an array', { detail: { tags: ['green'] } }, true],
    ['no element of an array', { detail: { tags: ['blue'] } }, false],
    ['an empty array', { resources: ['x'] }, false],
    ['a field of an element of an array', { detail: { items: { kind: ['b'] } } }, true],
    ['a field of no element', { detail: { items: { kind: ['c'] } } }, false],
    // $or, alongside the other fields of the same object.
    ['$or, the first alternative', { detail: { $or: [{ eventName: ['Decrypt'] }, { errorCode: ['x'] }] } }, true],
    ['$or, the second alternative', { detail: { $or: [{ eventName: ['Encrypt'] }, { errorCode: [{ prefix: 'Access' }] }] } }, true],
    ['$or, no alternative', { detail: { $or: [{ eventName: ['Encrypt'] }, { errorCode: ['x'] }] } }, false],
    ['$or and a field that matches', { detail: { count: [5], $or: [{ eventName: ['Encrypt'] }, { flag: [true] }] } }, true],
    ['$or and a field that does not', { detail: { count: [6], $or: [{ eventName: ['Decrypt'] }, { flag: [true] }] } }, false],
    ['$or, an alternative of two fields', { detail: { $or: [{ eventName: ['Decrypt'], count: [6] }, { flag: [false] }] } }, false],
    ['$or, nested alternatives', { detail: { $or: [{ userIdentity: { sessionContext: { sessionIssuer: { arn: [{ prefix: 'arn:aws:iam::' }] } } } }, { flag: [false] }] } }, true],
  ];

  test.each(cases)('%s: %j -> %s', (_name, pattern, expected) => {
    expect(matchesEventPattern(pattern, event)).toBe(expected);
  });

  test.each<[unknown, RegExp]>([
    [['aws.kms'], /expected an object/],
    [{}, /empty object/],
    [{ source: [] }, /empty array/],
    [{ source: 'aws.kms' }, /expected an object/],
    [{ detail: { errorCode: [{ suffix: 'Exception' }] } }, /only exact values and prefix/],
    [{ detail: { errorCode: [{ 'anything-but': 'x' }] } }, /only exact values and prefix/],
    [{ detail: { count: [{ numeric: ['>', 1] }] } }, /only exact values and prefix/],
    [{ detail: { errorCode: [{ exists: true }] } }, /only exact values and prefix/],
    [{ detail: { errorCode: [{ prefix: 5 }] } }, /prefix takes a string/],
    [{ detail: { userIdentity: { arn: [{ 'Fn::GetAtt': ['Role', 'Arn'] }] } } }, /only exact values and prefix/],
    [{ detail: { $or: [{ eventName: ['Decrypt'] }] } }, /two or more patterns/],
  ])('rejects %j', (pattern, message) => {
    expect(() => matchesEventPattern(pattern, event)).toThrow(message);
  });
});

// ---------------------------------------------------------------------------
// The evaluator itself
// ---------------------------------------------------------------------------

describe('filter pattern evaluator', () => {
  const event = {
    eventSource: 'kms.amazonaws.com',
    errorCode: 'AccessDeniedException',
    sourceIPAddress: '123.123.45.6',
    count: 5,
    nothing: null,
    userIdentity: { type: 'IAMUser', sessionContext: { attributes: { mfaAuthenticated: 'true' } } },
    resources: [{ ARN: 'arn:first' }, { ARN: 'arn:second' }],
  };

  test.each([
    // Plain and quoted values, whole-value and case-sensitive.
    ['{ $.eventSource = kms.amazonaws.com }', true],
    ['{ $.eventSource = "kms.amazonaws.com" }', true],
    ['{ $.eventSource = kms }', false],
    ['{ $.eventSource = KMS.amazonaws.com }', false],
    ['{ $.eventSource != s3.amazonaws.com }', true],
    ['{ $.eventSource != kms.amazonaws.com }', false],
    // Wildcards.
    ['{ $.errorCode = "AccessDenied*" }', true],
    ['{ $.errorCode = AccessDenied* }', true],
    ['{ $.errorCode = "*Exception" }', true],
    ['{ $.errorCode = "Access*Exception" }', true],
    ['{ $.errorCode = "*Denied" }', false],
    ['{ $.sourceIPAddress = 123.123.* }', true],
    ['{ $.sourceIPAddress != 123.123.* }', false],
    ['{ $.errorCode = "*" }', true],
    ['{ $.resources[0] = "*" }', true],
    ['{ $.missing = "*" }', false],
    ['{ $.nothing = "*" }', false],
    // Absent and null fields match neither = nor != (documented choice).
    ['{ $.missing = x }', false],
    ['{ $.missing != x }', false],
    ['{ $.nothing != x }', false],
    ['{ $.missing.deeper = x }', false],
    // Numbers compare through their JSON text.
    ['{ $.count = 5 }', true],
    ['{ $.count != 5 }', false],
    // NOT EXISTS / EXISTS.
    ['{ $.userIdentity.invokedBy NOT EXISTS }', true],
    ['{ $.userIdentity.type NOT EXISTS }', false],
    ['{ $.nothing NOT EXISTS }', false],
    ['{ $.missing.deeper NOT EXISTS }', true],
    ['{ $.userIdentity.type EXISTS }', true],
    ['{ $.userIdentity.invokedBy EXISTS }', false],
    ['{ $.userIdentity.invokedBy   NOT   EXISTS }', true],
    // Selectors with array indexes and nesting.
    ['{ $.resources[0].ARN = arn:first }', true],
    ['{ $.resources[1].ARN = arn:second }', true],
    ['{ $.resources[2].ARN = "*" }', false],
    ['{ $.resources[2].ARN NOT EXISTS }', true],
    ['{ $.userIdentity.sessionContext.attributes.mfaAuthenticated = "true" }', true],
    ['{ $.userIdentity[0] NOT EXISTS }', true],
    // Compound expressions and parentheses.
    ['{ ($.eventSource = kms.amazonaws.com) && ($.errorCode = "AccessDenied*") }', true],
    ['{ ($.eventSource = kms.amazonaws.com) && ($.errorCode = "NotFound*") }', false],
    ['{ ($.eventSource = s3.amazonaws.com) || ($.errorCode = "AccessDenied*") }', true],
    ['{ ($.eventSource = s3.amazonaws.com) || ($.errorCode = "NotFound*") }', false],
    ['{ $.eventSource = kms.amazonaws.com && $.count = 5 && $.nothing NOT EXISTS }', false],
    ['{ $.eventSource = kms.amazonaws.com && $.count = 5 && $.missing NOT EXISTS }', true],
    ['{ (($.count = 4) || ($.count = 5)) && ($.eventSource = kms.amazonaws.com) }', true],
    ['{ (($.count = 4) || ($.count = 6)) && ($.eventSource = kms.amazonaws.com) }', false],
    ['{ ($.count = 4) || (($.count = 5) && ($.errorCode = x)) }', false],
    ['{ ($.count = 4) || (($.count = 5) && ($.userIdentity.invokedBy NOT EXISTS)) }', true],
    ['{ ((($.eventSource = kms.amazonaws.com))) }', true],
    // Whitespace does not matter.
    ['{($.eventSource=kms.amazonaws.com)&&(($.count=5)||($.count=6))}', true],
    ['\n{\n  ( $.eventSource   =   kms.amazonaws.com )\n  &&\n  ( $.count=5 )\n}\n', true],
  ])('%s -> %s', (pattern, expected) => {
    expect(matchesFilterPattern(pattern, event)).toBe(expected);
  });

  test('spaced and unspaced forms of the same pattern agree on every case', () => {
    // Drop the spaces around brackets and operators, as the CIS pattern is written.
    const compact = PATTERNS.KeyPolicyOrGrantChanges.replace(/\s*([{}()!=&|])\s*/g, '$1');
    expect(compact).toContain('{(($.detail.eventSource=kms.amazonaws.com)&&');
    for (const { event: record } of CASES) {
      const logEvent = eventBridgeEvent(record);
      expect(matchesFilterPattern(compact, logEvent)).toBe(matchesFilterPattern(PATTERNS.KeyPolicyOrGrantChanges, logEvent));
    }
  });

  test('selectField picks values, including through array indexes', () => {
    expect(selectField(event, '$.resources[1].ARN')).toBe('arn:second');
    expect(selectField(event, '$.userIdentity.type')).toBe('IAMUser');
    expect(selectField(event, '$.resources[0]')).toEqual({ ARN: 'arn:first' });
    expect(selectField(event, '$.nothing')).toBeNull();
    expect(selectField(event, '$.missing')).toBeUndefined();
    expect(selectField(event, '$.resources[5].ARN')).toBeUndefined();
    expect(selectField({ resources: 'not an array' }, '$.resources[0].ARN')).toBeUndefined();
    expect(() => selectField(event, 'resources[0].ARN')).toThrow(/selector must start with '\$'/);
    expect(() => selectField(event, '$.resources[*].ARN')).toThrow(/numeric array indexes/);
  });

  test.each([
    ['$.eventSource = kms.amazonaws.com', /wrapped in \{ \.\.\. \}/],
    ['{ ($.a = x) && ($.b = y) || ($.c = z) }', /mixed without parentheses/],
    ['{ $.a = x || $.b = y && $.c = z }', /mixed without parentheses/],
    ['{ $.count > 5 }', /unsupported comparison/],
    ['{ $.count >= 5 }', /unsupported comparison/],
    ['{ $.a == x }', /unsupported operator '=='/],
    ['{ $.a =< 5 }', /unsupported operator '=<'/],
    ['{ $.nothing IS NULL }', /unsupported comparison/],
    ['{ $.flag IS TRUE }', /unsupported comparison/],
    ['{ $.a not exists }', /unsupported comparison/],
    ['{ $.a NOTEXISTS }', /unsupported comparison/],
    ['{ $.a = %Access.*% }', /expected a value/],
    ['{ $.resources[*].ARN = x }', /numeric array indexes/],
    ["{ $.['key'] = x }", /property name/],
    ['{ ($.a = x }', /expected '\)'/],
    ['{ $.a = x ) }', /expected '\}'/],
    ['{ $.a = x } trailing', /unexpected text after the pattern/],
    ['{ $.a = "unterminated }', /unterminated string/],
    ['{ $.a = x!y }', /quote the value/],
    ['{ $.a = x & $.b = y }', /expected '\}'/],
    ['{ }', /expected '\(' or a selector/],
    ['{ ERROR }', /expected '\(' or a selector/],
    ['[w1=ERROR, w2]', /wrapped in \{ \.\.\. \}/],
    ['{ $ = x }', /at least one step/],
  ])('rejects %s', (pattern, message) => {
    expect(() => matchesFilterPattern(pattern, event)).toThrow(message);
  });
});
