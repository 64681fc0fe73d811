/*
 * Proves offline that the metric filter patterns of the audit trail count the right
 * CloudTrail records, with an evaluator of the CloudWatch Logs JSON filter syntax
 * (test/support/filter-pattern.ts) and records modelled on real KMS CloudTrail events.
 */
import { ACCOUNT, APP, Json, KEY_ARN, KEY_ID, KEY_RESOURCES, REGION, kmsEvent, viaService } from './support/cloudtrail';
import { matchesFilterPattern, parseFilterPattern, selectField } from './support/filter-pattern';
import {
  AuditEvent,
  CIS_KEY_DISABLED_OR_DELETED_PATTERN,
  KEY_ALIAS_CHANGES,
  KEY_ARN_SELECTOR,
  KEY_DENIED_REQUESTS,
  KEY_EVENTS,
  KEY_POLICY_OR_GRANT_CHANGES,
  KEY_STATE_CHANGES,
  KEY_TAG_CHANGES,
  keyArnsOf,
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

// ---------------------------------------------------------------------------
// Which pattern counts which event
// ---------------------------------------------------------------------------

/** The patterns under test, by the name the expectations use. */
/** The keys the trail of ACCOUNT in REGION counts. */
const KEYS = keyArnsOf('aws', REGION, ACCOUNT);
const PATTERNS = {
  Cis: CIS_KEY_DISABLED_OR_DELETED_PATTERN,
  KeyStateChanges: KEY_STATE_CHANGES.patternFor(KEYS),
  KeyPolicyOrGrantChanges: KEY_POLICY_OR_GRANT_CHANGES.patternFor(KEYS),
  KeyAliasChanges: KEY_ALIAS_CHANGES.patternFor(KEYS),
  KeyTagChanges: KEY_TAG_CHANGES.patternFor(KEYS),
  KeyDeniedRequests: KEY_DENIED_REQUESTS.patternFor(KEYS),
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

function matchingPatterns(event: unknown): PatternName[] {
  return (Object.keys(PATTERNS) as PatternName[]).filter(name => matchesFilterPattern(PATTERNS[name], event));
}

interface Case {
  readonly name: string;
  readonly event: Json;
  /** The patterns that must match; all others must not. */
  readonly matches: readonly PatternName[];
}

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
];

describe('audit event patterns', () => {
  test('the patterns under test are those the trail creates', () => {
    expect(KEY_EVENTS.map(e => e.patternFor(KEYS))).toEqual([
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

  const perKeyMatches = CASES.filter(c => c.matches.some(name => PER_KEY.includes(name)));

  test('some cases match a per-key pattern', () => {
    expect(perKeyMatches.length).toBeGreaterThanOrEqual(8);
  });

  test.each(perKeyMatches)('$name: the KeyArn dimension of each filter that counts it is the key ARN', ({ event, matches }) => {
    for (const name of matches.filter(m => PER_KEY.includes(m))) {
      expect([name, selectField(event, PER_KEY_EVENTS[name]!.keyArnSelector ?? KEY_ARN_SELECTOR)]).toEqual([name, KEY_ARN]);
    }
  });

  test('every event a per-key pattern counts names a key ARN where that filter reads its dimension', () => {
    for (const { event } of CASES) {
      for (const name of PER_KEY.filter(n => matchesFilterPattern(PATTERNS[n], event))) {
        expect(selectField(event, PER_KEY_EVENTS[name]!.keyArnSelector ?? KEY_ARN_SELECTOR)).toMatch(/^arn:aws:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/);
      }
    }
  });

  test('alias and tag changes count in one metric', () => {
    expect(KEY_ALIAS_CHANGES.metricName).toBe(KEY_TAG_CHANGES.metricName);
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
    expect(compact).toContain('{($.eventSource=kms.amazonaws.com)&&');
    for (const { event: record } of CASES) {
      expect(matchesFilterPattern(compact, record)).toBe(matchesFilterPattern(PATTERNS.KeyPolicyOrGrantChanges, record));
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
