/*
 * Proves offline that the CloudWatch Logs Insights queries KeyComplianceEvidence saves
 * (src/evidence/evidence-queries.ts) parse and return the right evidence: each query
 * runs, with an evaluator of the Logs Insights query language
 * (test/support/logs-insights.ts), over a day of CloudTrail records modelled on the
 * records the AWS KMS developer guide shows for each operation.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/understanding-kms-entries.html
 */
import { ACCOUNT, ADMIN, APP, Json, KEY_ARN, KEY_ID, REGION, kmsEvent, roleSession, viaService } from './support/cloudtrail';
import { Command, Expr, parseQuery, runQuery } from './support/logs-insights';
import {
  EVIDENCE_QUERIES, KEY_USE_EVENTS, LIFECYCLE_EVENTS, POLICY_AND_GRANT_EVENTS, ROTATION_EVENTS, keyUsageQuery,
} from '../src/evidence/evidence-queries';

// ---------------------------------------------------------------------------
// CloudTrail records
// ---------------------------------------------------------------------------

/** A second key of the account (the destination key of the guide's ReEncrypt example). */
const OTHER_KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321`;
/** An ML-KEM key of the account (key spec ML_KEM_768, key usage KEY_AGREEMENT), for Decapsulate. */
const ML_KEM_KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/5c1e7a90-3b2d-4f6e-8a9c-0d1e2f3a4b5c`;
/** The address kmsEvent records for a call made directly, not through a service. */
const DIRECT_IP = String(kmsEvent('DescribeKey').sourceIPAddress);
const APP_ROLE = APP.sessionContext.sessionIssuer.arn;
const ADMIN_ROLE = ADMIN.sessionContext.sessionIssuer.arn;
/** A role the key policy does not let use the key. */
const REPORTING_ROLE = `arn:aws:iam::${ACCOUNT}:role/ReportingRole`;
const REPORTING = roleSession(REPORTING_ROLE, 'nightly-report', 'AROAEXAMPLEREPORT001');
/** CloudTrail itself, encrypting the trail's log files with the other key. */
const CLOUDTRAIL_SERVICE = { type: 'AWSService', invokedBy: 'cloudtrail.amazonaws.com' };
/** A role whose service recovers ML-KEM shared secrets, from a host of its own. */
const KEY_EXCHANGE_ROLE = `arn:aws:iam::${ACCOUNT}:role/KeyExchangeRole`;
const KEY_EXCHANGE = roleSession(KEY_EXCHANGE_ROLE, 'handshake', 'AROAEXAMPLEKEYEX0001');
const KEY_EXCHANGE_IP = '198.51.100.23';

const GRANT_OLD = 'abcde1237f76e4ba7987489ac329fbfba6ad343d6f7075dbd1ef191f0120514a';
const GRANT_APP = 'f020fe75197b93991dc8491d6f19dd3cebb24ee62277a05914386724f3d48758';
const GRANT_REPORTING = '0ab0ac0d0b000f00ea00cc0a0e00fc00bce000c000f0000000c0bc0a0000aaaf';

/** A time of the sample day as CloudTrail records it (`eventTime`)... */
function at(time: string): string {
  return `2024-05-01T${time}:00Z`;
}
/** ...and as Logs Insights shows it (`@timestamp`). */
function shown(time: string): string {
  return `2024-05-01 ${time}:00.000`;
}

function keyResources(...arns: string[]): Json[] {
  return arns.map(ARN => ({ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN }));
}

/** A call on a key, made at `time`, by `fields.userIdentity` (the admin unless given). */
function call(eventName: string, time: string, keyArn: string, fields: Json = {}): Json {
  return kmsEvent(eventName, { eventTime: at(time), resources: keyResources(keyArn), ...fields });
}

const DYNAMODB_CONTEXT = { 'aws:dynamodb:tableName': 'Orders', 'aws:dynamodb:subscriberId': ACCOUNT };
const APP_CONTEXT = { app: 'orders', table: 'payments' };

/** Decrypt by DynamoDB for the app role: the role's session, `invokedBy` the service (a forward access session). */
function decryptThroughDynamoDb(time: string): Json {
  return call('Decrypt', time, KEY_ARN, {
    ...viaService('dynamodb.amazonaws.com'),
    requestParameters: { encryptionAlgorithm: 'SYMMETRIC_DEFAULT', encryptionContext: DYNAMODB_CONTEXT },
    readOnly: true,
  });
}

function generateDataKey(time: string, keyArn: string, fields: Json): Json {
  return call('GenerateDataKey', time, keyArn, { requestParameters: { keyId: keyArn, keySpec: 'AES_256' }, readOnly: true, ...fields });
}

function denied(eventName: string, time: string, who: Json, fields: Json = {}): Json {
  return call(eventName, time, KEY_ARN, {
    userIdentity: who,
    errorCode: 'AccessDenied',
    errorMessage: `User: ${String(who.arn)} is not authorized to perform: kms:${eventName} on resource: ${KEY_ARN} `
      + `because no resource-based policy allows the kms:${eventName} action`,
    ...fields,
  });
}

/** Uses of the keys that succeeded. */
const KEY_USE = [
  ...['10:00', '10:05', '10:25', '10:45'].map(decryptThroughDynamoDb),
  generateDataKey('10:10', KEY_ARN, { userIdentity: APP, requestParameters: { keyId: KEY_ARN, keySpec: 'AES_256', encryptionContext: APP_CONTEXT } }),
  generateDataKey('10:20', KEY_ARN, { userIdentity: APP, requestParameters: { keyId: KEY_ARN, keySpec: 'AES_256', encryptionContext: APP_CONTEXT } }),
  // ct-reencrypt: `resources` names the source key, then the destination key.
  call('ReEncrypt', '10:35', KEY_ARN, {
    userIdentity: APP,
    requestParameters: {
      sourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      sourceEncryptionContext: APP_CONTEXT,
      destinationKeyId: OTHER_KEY_ARN,
      destinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      destinationEncryptionContext: APP_CONTEXT,
    },
    readOnly: true,
    resources: keyResources(KEY_ARN, OTHER_KEY_ARN),
  }),
  // CloudTrail encrypts each log file it delivers.
  ...['10:11', '10:21', '10:31', '10:41', '10:51'].map(time => generateDataKey(time, OTHER_KEY_ARN, {
    userIdentity: CLOUDTRAIL_SERVICE,
    sourceIPAddress: 'cloudtrail.amazonaws.com',
    userAgent: 'cloudtrail.amazonaws.com',
    requestParameters: {
      keyId: OTHER_KEY_ARN,
      keySpec: 'AES_256',
      encryptionContext: { 'aws:cloudtrail:arn': `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/management-events` },
    },
  })),
  ...['10:15', '10:48'].map(time => call('Encrypt', time, OTHER_KEY_ARN, {
    requestParameters: { keyId: OTHER_KEY_ARN, encryptionAlgorithm: 'SYMMETRIC_DEFAULT', encryptionContext: APP_CONTEXT },
    readOnly: true,
  })),
  // Decapsulate of an ML-KEM key, as KMS records its other decryptions: the request's
  // parameters without the ciphertext, the response (the shared secret) not recorded.
  call('Decapsulate', '10:57', ML_KEM_KEY_ARN, {
    userIdentity: KEY_EXCHANGE,
    sourceIPAddress: KEY_EXCHANGE_IP,
    userAgent: 'aws-sdk-java/2.31.0 md/io#sync ua/2.1 os/Linux lang/java#21 api/KMS#2.31.0',
    requestParameters: { keyId: ML_KEM_KEY_ARN, encapsulationAlgorithm: 'ML_KEM' },
    readOnly: true,
  }),
];

/** Calls that failed, and calls that use no key material. */
const FAILED_AND_OTHER_CALLS = [
  denied('Decrypt', '10:30', REPORTING, { requestParameters: { encryptionAlgorithm: 'SYMMETRIC_DEFAULT' }, readOnly: true }),
  denied('Decrypt', '10:40', REPORTING, { requestParameters: { encryptionAlgorithm: 'SYMMETRIC_DEFAULT' }, readOnly: true }),
  // The reporting role reads three SSE-KMS objects: S3 asks KMS to decrypt their data keys for it.
  ...['10:32', '10:33', '10:34'].map((time, i) => denied('Decrypt', time, { ...REPORTING, invokedBy: 's3.amazonaws.com' }, {
    sourceIPAddress: 's3.amazonaws.com',
    userAgent: 's3.amazonaws.com',
    requestParameters: {
      encryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      encryptionContext: { 'aws:s3:arn': `arn:aws:s3:::orders-bucket/reports/2024-05-0${i + 1}.csv` },
    },
    readOnly: true,
  })),
  denied('PutKeyPolicy', '11:02', APP, { requestParameters: { keyId: KEY_ID, policyName: 'default' } }),
  call('Decrypt', '10:55', KEY_ARN, {
    userIdentity: APP,
    requestParameters: { encryptionAlgorithm: 'SYMMETRIC_DEFAULT', encryptionContext: APP_CONTEXT },
    readOnly: true,
    errorCode: 'InvalidCiphertextException',
  }),
  call('DescribeKey', '09:50', KEY_ARN, { requestParameters: { keyId: KEY_ARN }, readOnly: true }),
  // ct-updatealias: `resources` names the alias, then the key it now points to.
  call('UpdateAlias', '09:55', OTHER_KEY_ARN, {
    requestParameters: { aliasName: 'alias/trail-logs', targetKeyId: OTHER_KEY_ARN },
    responseElements: { keyId: OTHER_KEY_ARN },
    resources: keyResources(`arn:aws:kms:${REGION}:${ACCOUNT}:alias/trail-logs`, OTHER_KEY_ARN),
  }),
];

const KEY_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'Enable IAM policies', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
});

/** Changes to the keys' policies and grants (ct-putkeypolicy, ct-creategrant, ct-retire-grant, ct-revoke-grant). */
const POLICY_AND_GRANTS = [
  call('PutKeyPolicy', '11:00', KEY_ARN, {
    requestParameters: { keyId: KEY_ID, policyName: 'default', policy: KEY_POLICY, bypassPolicyLockoutSafetyCheck: false },
  }),
  call('CreateGrant', '11:05', KEY_ARN, {
    requestParameters: {
      keyId: KEY_ARN,
      granteePrincipal: APP_ROLE,
      retiringPrincipal: APP_ROLE,
      operations: ['Decrypt', 'GenerateDataKey'],
      constraints: { encryptionContextSubset: { app: 'orders' } },
    },
    responseElements: { grantId: GRANT_APP, keyId: KEY_ARN },
  }),
  // As the guide records it: no request parameters, the grant in additionalEventData.
  call('RetireGrant', '11:10', KEY_ARN, {
    userIdentity: APP, requestParameters: null, responseElements: null, additionalEventData: { grantId: GRANT_APP },
  }),
  call('RevokeGrant', '11:15', KEY_ARN, { requestParameters: { keyId: KEY_ID, grantId: GRANT_OLD }, responseElements: null }),
  call('CreateGrant', '11:20', OTHER_KEY_ARN, {
    requestParameters: { keyId: OTHER_KEY_ARN, granteePrincipal: REPORTING_ROLE, operations: ['Decrypt'] },
    responseElements: { grantId: GRANT_REPORTING, keyId: OTHER_KEY_ARN },
  }),
];

/** The keys' end of life and return from it (ct-schedule-key-deletion and its neighbours). */
const LIFECYCLE = [
  call('ScheduleKeyDeletion', '12:00', KEY_ARN, {
    requestParameters: { pendingWindowInDays: 30, keyId: KEY_ID },
    responseElements: { keyId: KEY_ARN, keyState: 'PendingDeletion', deletionDate: 'May 31, 2024 12:00:00 PM' },
  }),
  call('CancelKeyDeletion', '12:05', KEY_ARN, { responseElements: { keyId: KEY_ARN } }),
  call('DisableKey', '12:10', OTHER_KEY_ARN, { requestParameters: { keyId: OTHER_KEY_ARN } }),
  call('EnableKey', '12:15', OTHER_KEY_ARN, { requestParameters: { keyId: OTHER_KEY_ARN } }),
];

/** Rotation settings, an on-demand rotation, and KMS's own rotation of the other key (ct-rotatekey). */
const ROTATION = [
  call('EnableKeyRotation', '13:00', KEY_ARN, { requestParameters: { keyId: KEY_ID, rotationPeriodInDays: 180 } }),
  call('RotateKeyOnDemand', '13:05', KEY_ARN, { requestParameters: { keyId: KEY_ID }, responseElements: { keyId: KEY_ID } }),
  call('RotateKey', '13:10', OTHER_KEY_ARN, {
    userIdentity: { accountId: ACCOUNT, invokedBy: 'AWS Internal' },
    sourceIPAddress: 'AWS Internal',
    userAgent: 'AWS Internal',
    requestParameters: null,
    requestID: undefined,
    tlsDetails: undefined,
    eventType: 'AwsServiceEvent',
    serviceEventDetails: { rotationType: 'AUTOMATIC', keyOrigin: 'AWS_KMS' },
  }),
];

/** Records of other services: a denied S3 read, and (made up) events of another source that carry KMS event names. */
const OTHER_SERVICES = [
  kmsEvent('GetObject', {
    eventSource: 's3.amazonaws.com',
    eventTime: at('10:12'),
    userIdentity: APP,
    readOnly: true,
    requestParameters: { bucketName: 'orders-bucket', key: 'order.json' },
    errorCode: 'AccessDenied',
    errorMessage: 'Access Denied',
    resources: [{ type: 'AWS::S3::Object', ARN: 'arn:aws:s3:::orders-bucket/order.json' }],
  }),
  ...['Decrypt', 'PutKeyPolicy', 'DisableKey', 'RotateKey']
    .map((name, i) => call(name, `14:0${i}`, KEY_ARN, { eventSource: 'example.amazonaws.com' })),
];

/** The day's trail, in delivery order (not time order). */
const RECORDS = [...OTHER_SERVICES, ...ROTATION, ...LIFECYCLE, ...POLICY_AND_GRANTS, ...FAILED_AND_OTHER_CALLS, ...KEY_USE];

/** The arguments of every `coalesce` call in a query. */
function coalesceArguments(queryString: string): Expr[] {
  const found: Expr[] = [];
  const visit = (expr: Expr): void => {
    switch (expr.kind) {
      case 'call':
        if (expr.fn === 'coalesce') found.push(...expr.args);
        expr.args.forEach(visit);
        break;
      case 'not': case 'in': case 'like': visit(expr.operand); break;
      case 'and': case 'or': case 'compare': visit(expr.left); visit(expr.right); break;
      default: break;
    }
  };
  const expressions = (command: Command): Expr[] => {
    switch (command.command) {
      case 'fields': return command.columns.map(c => c.expr);
      case 'filter': return [command.condition];
      case 'stats': return [...command.aggregations.flatMap(a => a.arg ? [a.arg] : []), ...command.by.map(n => n.expr)];
      case 'sort': return command.keys.map(k => k.expr);
      case 'limit': return [];
    }
  };
  parseQuery(queryString).flatMap(expressions).forEach(visit);
  return found;
}

function query(name: string): string {
  const found = EVIDENCE_QUERIES.find(q => q.name === name);
  if (!found) throw new Error(`no query named ${name}`);
  return found.queryString;
}

// ---------------------------------------------------------------------------
// The queries parse
// ---------------------------------------------------------------------------

describe('the evidence queries', () => {
  test('are the five saved queries, each with an answer', () => {
    expect(EVIDENCE_QUERIES.map(q => q.name))
      .toEqual(['key-usage', 'denied-requests', 'policy-and-grant-changes', 'deletions-and-disabling', 'rotations']);
    for (const q of EVIDENCE_QUERIES) expect(q.answers).not.toEqual('');
  });

  const summaries = ['fields', 'filter', 'stats', 'sort'];
  const listings = ['fields', 'filter', 'sort'];
  test.each([
    ['key-usage', summaries], ['denied-requests', summaries],
    ['policy-and-grant-changes', listings], ['deletions-and-disabling', listings], ['rotations', listings],
  ])('%s parses', (name, commands) => {
    expect(parseQuery(query(name as string)).map(c => c.command)).toEqual(commands);
  });

  test('the per-key usage query parses', () => {
    expect(parseQuery(keyUsageQuery(KEY_ARN)).map(c => c.command)).toEqual(['fields', 'filter', 'stats', 'sort']);
  });

  // The documentation describes coalesce's arguments as fields; the evaluator also takes literals.
  test.each([...EVIDENCE_QUERIES.map(q => [q.name, q.queryString]), ['the per-key usage query', keyUsageQuery(KEY_ARN)]])(
    '%s gives coalesce only fields',
    (_name, queryString) => {
      const args = coalesceArguments(queryString);
      expect(args.length).toBeGreaterThan(0);
      expect(args.filter(arg => arg.kind !== 'field')).toEqual([]);
    },
  );

  test.each(EVIDENCE_QUERIES.map(q => [q.name, q.queryString]))('%s fails to parse with a typo in it', (_name, queryString) => {
    expect(() => parseQuery(queryString.replace('filter', 'fliter'))).toThrow(/unknown command 'fliter'/);
    expect(() => parseQuery(queryString.replace('coalesce(', 'colaesce('))).toThrow(/unknown function 'colaesce'/);
    expect(() => parseQuery(queryString.replace(/\)(?=[^)]*$)/, ''))).toThrow(/expected '\)'/);
  });
});

// ---------------------------------------------------------------------------
// What each query returns
// ---------------------------------------------------------------------------

describe('key-usage', () => {
  test('counts the successful uses of each key by principal and how it came, with the last call, busiest first', () => {
    expect(runQuery(query('key-usage'), RECORDS)).toEqual([
      { keyArn: OTHER_KEY_ARN, principal: 'cloudtrail.amazonaws.com', via: 'cloudtrail.amazonaws.com', calls: 5, lastCall: shown('10:51') },
      { keyArn: KEY_ARN, principal: APP_ROLE, via: 'dynamodb.amazonaws.com', calls: 4, lastCall: shown('10:45') },
      // Two GenerateDataKey and the ReEncrypt, which this query counts for its source key only (see the last tests).
      { keyArn: KEY_ARN, principal: APP_ROLE, via: DIRECT_IP, calls: 3, lastCall: shown('10:35') },
      { keyArn: OTHER_KEY_ARN, principal: ADMIN_ROLE, via: DIRECT_IP, calls: 2, lastCall: shown('10:48') },
      { keyArn: ML_KEM_KEY_ARN, principal: KEY_EXCHANGE_ROLE, via: KEY_EXCHANGE_IP, calls: 1, lastCall: shown('10:57') },
    ]);
  });

  test('leaves out failed calls, calls that use no key material, and other services', () => {
    expect(runQuery(query('key-usage'), [...FAILED_AND_OTHER_CALLS, ...OTHER_SERVICES, ...POLICY_AND_GRANTS, ...LIFECYCLE, ...ROTATION])).toEqual([]);
  });
});

describe('keyUsageQuery', () => {
  test('answers for the one key it names: who used it, how it came, which call, first and last', () => {
    expect(runQuery(keyUsageQuery(KEY_ARN), RECORDS)).toEqual([
      { principal: APP_ROLE, via: 'dynamodb.amazonaws.com', eventName: 'Decrypt', calls: 4, firstCall: shown('10:00'), lastCall: shown('10:45') },
      { principal: APP_ROLE, via: DIRECT_IP, eventName: 'GenerateDataKey', calls: 2, firstCall: shown('10:10'), lastCall: shown('10:20') },
      { principal: APP_ROLE, via: DIRECT_IP, eventName: 'ReEncrypt', calls: 1, firstCall: shown('10:35'), lastCall: shown('10:35') },
    ]);
  });

  test('and for the other key, its own uses and the ReEncrypt into it', () => {
    expect(runQuery(keyUsageQuery(OTHER_KEY_ARN), RECORDS)).toEqual([
      {
        principal: 'cloudtrail.amazonaws.com',
        via: 'cloudtrail.amazonaws.com',
        eventName: 'GenerateDataKey',
        calls: 5,
        firstCall: shown('10:11'),
        lastCall: shown('10:51'),
      },
      { principal: ADMIN_ROLE, via: DIRECT_IP, eventName: 'Encrypt', calls: 2, firstCall: shown('10:15'), lastCall: shown('10:48') },
      { principal: APP_ROLE, via: DIRECT_IP, eventName: 'ReEncrypt', calls: 1, firstCall: shown('10:35'), lastCall: shown('10:35') },
    ]);
  });

  test('and for the ML-KEM key, its Decapsulate', () => {
    expect(runQuery(keyUsageQuery(ML_KEM_KEY_ARN), RECORDS)).toEqual([
      { principal: KEY_EXCHANGE_ROLE, via: KEY_EXCHANGE_IP, eventName: 'Decapsulate', calls: 1, firstCall: shown('10:57'), lastCall: shown('10:57') },
    ]);
  });

  test('finds nothing for a key without uses', () => {
    expect(runQuery(keyUsageQuery(`arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-0000-0000-000000000000`), RECORDS)).toEqual([]);
  });

  test.each([KEY_ARN, OTHER_KEY_ARN])('leaves out failed calls, calls that use no key material, and other services (%s)', keyArn => {
    expect(runQuery(keyUsageQuery(keyArn), [...FAILED_AND_OTHER_CALLS, ...OTHER_SERVICES, ...POLICY_AND_GRANTS, ...LIFECYCLE, ...ROTATION]))
      .toEqual([]);
  });
});

describe('denied-requests', () => {
  test('counts the requests KMS denied by principal, call, key and how they came, most denied first; other errors and services are not denials', () => {
    expect(runQuery(query('denied-requests'), RECORDS)).toEqual([
      { principal: REPORTING_ROLE, eventName: 'Decrypt', keyArn: KEY_ARN, via: 's3.amazonaws.com', denied: 3, lastDenied: shown('10:34') },
      { principal: REPORTING_ROLE, eventName: 'Decrypt', keyArn: KEY_ARN, via: DIRECT_IP, denied: 2, lastDenied: shown('10:40') },
      { principal: APP_ROLE, eventName: 'PutKeyPolicy', keyArn: KEY_ARN, via: DIRECT_IP, denied: 1, lastDenied: shown('11:02') },
    ]);
  });
});

describe('policy-and-grant-changes', () => {
  test('lists the policy and grant calls, newest first, with who, the grantee, the grant and any error', () => {
    const direct = { via: DIRECT_IP };
    expect(runQuery(query('policy-and-grant-changes'), RECORDS)).toEqual([
      {
        '@timestamp': shown('11:20'),
        'eventName': 'CreateGrant',
        'keyArn': OTHER_KEY_ARN,
        'principal': ADMIN_ROLE,
        ...direct,
        'grantee': REPORTING_ROLE,
        'grantId': GRANT_REPORTING,
      },
      { '@timestamp': shown('11:15'), 'eventName': 'RevokeGrant', 'keyArn': KEY_ARN, 'principal': ADMIN_ROLE, ...direct, 'grantId': GRANT_OLD },
      // RetireGrant records the grant under additionalEventData.
      { '@timestamp': shown('11:10'), 'eventName': 'RetireGrant', 'keyArn': KEY_ARN, 'principal': APP_ROLE, ...direct, 'grantId': GRANT_APP },
      {
        '@timestamp': shown('11:05'),
        'eventName': 'CreateGrant',
        'keyArn': KEY_ARN,
        'principal': ADMIN_ROLE,
        ...direct,
        'grantee': APP_ROLE,
        'grantId': GRANT_APP,
      },
      { '@timestamp': shown('11:02'), 'eventName': 'PutKeyPolicy', 'keyArn': KEY_ARN, 'principal': APP_ROLE, ...direct, 'errorCode': 'AccessDenied' },
      { '@timestamp': shown('11:00'), 'eventName': 'PutKeyPolicy', 'keyArn': KEY_ARN, 'principal': ADMIN_ROLE, ...direct },
    ]);
  });
});

describe('deletions-and-disabling', () => {
  test('lists deletion scheduled and cancelled, disabling and enabling, newest first, with the waiting period and date', () => {
    expect(runQuery(query('deletions-and-disabling'), RECORDS)).toEqual([
      { '@timestamp': shown('12:15'), 'eventName': 'EnableKey', 'keyArn': OTHER_KEY_ARN, 'principal': ADMIN_ROLE },
      { '@timestamp': shown('12:10'), 'eventName': 'DisableKey', 'keyArn': OTHER_KEY_ARN, 'principal': ADMIN_ROLE },
      { '@timestamp': shown('12:05'), 'eventName': 'CancelKeyDeletion', 'keyArn': KEY_ARN, 'principal': ADMIN_ROLE },
      {
        '@timestamp': shown('12:00'),
        'eventName': 'ScheduleKeyDeletion',
        'keyArn': KEY_ARN,
        'principal': ADMIN_ROLE,
        'pendingWindowInDays': 30,
        'deletionDate': 'May 31, 2024 12:00:00 PM',
      },
    ]);
  });
});

describe('rotations', () => {
  test("lists KMS's own rotation, on-demand rotation and the rotation setting, newest first", () => {
    expect(runQuery(query('rotations'), RECORDS)).toEqual([
      // An AWS service event: no ARN, the principal is who CloudTrail says invoked it.
      { '@timestamp': shown('13:10'), 'eventName': 'RotateKey', 'keyArn': OTHER_KEY_ARN, 'principal': 'AWS Internal' },
      { '@timestamp': shown('13:05'), 'eventName': 'RotateKeyOnDemand', 'keyArn': KEY_ARN, 'principal': ADMIN_ROLE },
      { '@timestamp': shown('13:00'), 'eventName': 'EnableKeyRotation', 'keyArn': KEY_ARN, 'principal': ADMIN_ROLE, 'rotationPeriodInDays': 180 },
    ]);
  });
});

describe('every query', () => {
  test.each(EVIDENCE_QUERIES.map(q => [q.name, q.queryString]))('%s ignores other services, even with KMS event names', (_name, queryString) => {
    expect(runQuery(queryString, OTHER_SERVICES)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// Who made a call, and how it came
// ---------------------------------------------------------------------------

const USER_ARN = `arn:aws:iam::${ACCOUNT}:user/Alice`;
/** An IAM user with access keys (the guide's CreateAlias example). */
const USER = { type: 'IAMUser', principalId: 'AIDAEXAMPLEUSER00001', arn: USER_ARN, accountId: ACCOUNT, accessKeyId: 'AKIAEXAMPLEUSER00001', userName: 'Alice' };
const PARTNER_ACCOUNT = '222222222222';
/** A role of another account, as the key owner's trail records it: that account, no ARN. */
const PARTNER = { type: 'AWSAccount', principalId: 'AROAEXAMPLEPARTNER01:batch', accountId: PARTNER_ACCOUNT };

/** A Decrypt of the key at 15:00 by `userIdentity`, from `sourceIPAddress`. */
function decryptBy(userIdentity: Json, sourceIPAddress: string): Json {
  return call('Decrypt', '15:00', KEY_ARN, {
    userIdentity,
    sourceIPAddress,
    userAgent: sourceIPAddress.endsWith('.amazonaws.com') ? sourceIPAddress : 'aws-cli/2.15.40',
    requestParameters: { encryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
    readOnly: true,
  });
}

describe('principal and via', () => {
  test.each<[string, Json, string, string, string]>([
    ['a role session, by its role', APP, DIRECT_IP, APP_ROLE, DIRECT_IP],
    ['a role session through a service, by its role, via the service', { ...APP, invokedBy: 'dynamodb.amazonaws.com' }, 'dynamodb.amazonaws.com', APP_ROLE, 'dynamodb.amazonaws.com'],
    ['an IAM user, by its ARN', USER, '203.0.113.7', USER_ARN, '203.0.113.7'],
    ['an IAM user through a service, by its ARN, via the service', { ...USER, invokedBy: 's3.amazonaws.com' }, 's3.amazonaws.com', USER_ARN, 's3.amazonaws.com'],
    ['an AWS service, by its name', CLOUDTRAIL_SERVICE, 'cloudtrail.amazonaws.com', 'cloudtrail.amazonaws.com', 'cloudtrail.amazonaws.com'],
    ['a caller from another account, by its account', PARTNER, '203.0.113.25', PARTNER_ACCOUNT, '203.0.113.25'],
  ])('name %s', (_who, userIdentity, address, principal, via) => {
    const record = decryptBy(userIdentity, address);
    expect(runQuery(query('key-usage'), [record])).toEqual([{ keyArn: KEY_ARN, principal, via, calls: 1, lastCall: shown('15:00') }]);
    expect(runQuery(keyUsageQuery(KEY_ARN), [record]))
      .toEqual([{ principal, via, eventName: 'Decrypt', calls: 1, firstCall: shown('15:00'), lastCall: shown('15:00') }]);
    const refused = { ...record, errorCode: 'AccessDenied', errorMessage: 'not authorized' };
    expect(runQuery(query('denied-requests'), [refused]))
      .toEqual([{ principal, eventName: 'Decrypt', keyArn: KEY_ARN, via, denied: 1, lastDenied: shown('15:00') }]);
  });
});

// ---------------------------------------------------------------------------
// Event names
// ---------------------------------------------------------------------------

/**
 * The AWS KMS API operations, from the API reference's list of actions (and
 * @aws-sdk/client-kms 3.1164's commands, which add the ML-KEM operations).
 * @see https://docs.aws.amazon.com/kms/latest/APIReference/API_Operations.html
 */
const KMS_API_OPERATIONS = [
  'CancelKeyDeletion', 'ConnectCustomKeyStore', 'CreateAlias', 'CreateCustomKeyStore', 'CreateGrant', 'CreateKey', 'Decapsulate',
  'Decrypt', 'DeleteAlias', 'DeleteCustomKeyStore', 'DeleteImportedKeyMaterial', 'DeriveSharedSecret', 'DescribeCustomKeyStores',
  'DescribeKey', 'DisableKey', 'DisableKeyRotation', 'DisconnectCustomKeyStore', 'EnableKey', 'EnableKeyRotation', 'Encapsulate',
  'Encrypt', 'GenerateDataKey', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext', 'GenerateDataKeyWithoutPlaintext',
  'GenerateMac', 'GenerateRandom', 'GetKeyLastUsage', 'GetKeyPolicy', 'GetKeyRotationStatus', 'GetParametersForImport', 'GetPublicKey',
  'ImportKeyMaterial', 'ListAliases', 'ListGrants', 'ListKeyPolicies', 'ListKeyRotations', 'ListKeys', 'ListResourceTags',
  'ListRetirableGrants', 'PutKeyPolicy', 'ReEncrypt', 'ReplicateKey', 'RetireGrant', 'RevokeGrant', 'RotateKeyOnDemand',
  'ScheduleKeyDeletion', 'Sign', 'TagResource', 'UntagResource', 'UpdateAlias', 'UpdateCustomKeyStore', 'UpdateKeyDescription',
  'UpdatePrimaryRegion', 'Verify', 'VerifyMac',
];
/**
 * Events KMS records in CloudTrail that are no API operation (AWS service events).
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/understanding-kms-entries.html
 */
const KMS_SERVICE_EVENTS = ['RotateKey', 'DeleteKey', 'DeleteExpiredKeyMaterial', 'SynchronizeMultiRegionKey'];
/**
 * The operations of KMS_API_OPERATIONS that use a key's material: the guide's
 * cryptographic operations without GenerateRandom, which names no key, with the
 * ML-KEM operations.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/kms-cryptography.html#cryptographic-operations
 */
const KEY_MATERIAL_OPERATIONS = [
  'Decapsulate', 'Decrypt', 'DeriveSharedSecret', 'Encapsulate', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext', 'GenerateDataKeyWithoutPlaintext', 'GenerateMac', 'ReEncrypt', 'Sign', 'Verify', 'VerifyMac',
];

describe('the event name lists', () => {
  test.each<[string, string[]]>([
    ['KEY_USE_EVENTS', KEY_USE_EVENTS], ['POLICY_AND_GRANT_EVENTS', POLICY_AND_GRANT_EVENTS],
    ['LIFECYCLE_EVENTS', LIFECYCLE_EVENTS], ['ROTATION_EVENTS', ROTATION_EVENTS],
  ])('%s names only real KMS API operations or events, once each', (_name, names) => {
    expect(names.filter(n => !KMS_API_OPERATIONS.includes(n) && !KMS_SERVICE_EVENTS.includes(n))).toEqual([]);
    expect(new Set(names).size).toBe(names.length);
  });

  test('KEY_USE_EVENTS names every operation that uses a key\'s material', () => {
    expect([...KEY_USE_EVENTS].sort()).toEqual(KEY_MATERIAL_OPERATIONS);
  });

  test('only RotateKey is a service event', () => {
    const all = [...KEY_USE_EVENTS, ...POLICY_AND_GRANT_EVENTS, ...LIFECYCLE_EVENTS, ...ROTATION_EVENTS];
    expect(all.filter(n => KMS_SERVICE_EVENTS.includes(n))).toEqual(['RotateKey']);
  });

  test('the lists do not overlap', () => {
    const all = [...KEY_USE_EVENTS, ...POLICY_AND_GRANT_EVENTS, ...LIFECYCLE_EVENTS, ...ROTATION_EVENTS];
    expect(new Set(all).size).toBe(all.length);
  });
});

// ---------------------------------------------------------------------------
// The evaluator is no rubber stamp
// ---------------------------------------------------------------------------

describe('the Logs Insights evaluator', () => {
  test.each([
    ['fields a | fliter a = 1', /unknown command 'fliter' at position 11/],
    ['filter ispresnt(errorCode)', /unknown function 'ispresnt' at position 7/],
    ['filter (a = 1 and b = 2', /expected '\)' to close the '\(' at position 7 but the query ended/],
    ['filter a in ["x", "y"', /expected '\]' to close the list/],
    ['filter a = 1)', /unbalanced '\)' at position 12/],
    ['filter a == 1', /expected a value but found '=' at position 10/],
    ['filter a =~ /x/', /unexpected character '~' at position 10/],
    ['filter a like "x', /unterminated quoted text at position 14/],
    ['filter a like /x', /unterminated regular expression at position 14/],
    ['stats sum(calls) by a', /unknown aggregation function 'sum'/],
    ['fields a\n| sort a sideways', /expected a '\|' between commands but found 'sideways' at position 18 \(line 2, column 10\)/],
    ['limit 0', /expected a positive integer/],
    ['', /expected a command but the query ended/],
  ])('rejects %j', (bad, message) => {
    expect(() => parseQuery(bad)).toThrow(message);
  });

  const rows = [
    { eventTime: at('09:00'), n: 5, s: 'Alpha', list: [{ v: 'x' }] },
    { eventTime: at('09:01'), n: 12, s: 'beta' },
    { eventTime: at('09:02'), s: null },
  ];

  test('treats a missing or null field as not present: comparisons with it are false, even !=', () => {
    expect(runQuery('filter s != "Alpha" | fields s', rows)).toEqual([{ s: 'beta' }]);
    expect(runQuery('filter n < 10 or n > 10 | fields n', rows)).toEqual([{ n: 5 }, { n: 12 }]);
    expect(runQuery('filter not ispresent(s) | fields @timestamp', rows)).toEqual([{ '@timestamp': shown('09:02') }]);
    expect(runQuery('filter s not in ["Alpha"] | fields s', rows)).toEqual([{ s: 'beta' }]);
  });

  test('reads flattened arrays, like substrings and regexes, coalesces, counts present values, sorts and limits', () => {
    expect(runQuery('filter list.0.v = "x" | fields s', rows)).toEqual([{ s: 'Alpha' }]);
    expect(runQuery('filter s like "lph" or s like /^b/ | fields s', rows)).toEqual([{ s: 'Alpha' }, { s: 'beta' }]);
    expect(runQuery('filter s like /(?i)ALPHA/ | fields s', rows)).toEqual([{ s: 'Alpha' }]);
    expect(runQuery('fields coalesce(s, n, "none") as c | sort c asc | limit 2', rows)).toEqual([{ c: 'Alpha' }, { c: 'beta' }]);
    expect(runQuery('stats count(*) as all, count(s) as named, min(n) as low, max(@timestamp) as last', rows))
      .toEqual([{ all: 3, named: 2, low: 5, last: shown('09:02') }]);
  });
});

// ---------------------------------------------------------------------------
// What the queries were fixed to show
// ---------------------------------------------------------------------------

describe('the fixed limits of the queries', () => {
  test('keyUsageQuery leaves failed calls out (denied, invalid ciphertext), as key-usage does', () => {
    const failedUses = FAILED_AND_OTHER_CALLS.filter(r => r.errorCode !== undefined && KEY_USE_EVENTS.includes(String(r.eventName)));
    expect(failedUses.map(r => r.errorCode)).toEqual(['AccessDenied', 'AccessDenied', 'AccessDenied', 'AccessDenied', 'AccessDenied', 'InvalidCiphertextException']);
    expect(runQuery(keyUsageQuery(KEY_ARN), failedUses)).toEqual([]);
  });

  test('a RetireGrant shows its grantId, which CloudTrail records in additionalEventData.grantId', () => {
    expect(runQuery(query('policy-and-grant-changes'), POLICY_AND_GRANTS.filter(r => r.eventName === 'RetireGrant')))
      .toEqual([{ '@timestamp': shown('11:10'), 'eventName': 'RetireGrant', 'keyArn': KEY_ARN, 'principal': APP_ROLE, 'via': DIRECT_IP, 'grantId': GRANT_APP }]);
  });

  test('a ReEncrypt counts for its destination key too, which CloudTrail names second (resources.1)', () => {
    const [reEncrypt, ...more] = KEY_USE.filter(r => r.eventName === 'ReEncrypt');
    expect(more).toEqual([]);
    const row = { principal: APP_ROLE, via: DIRECT_IP, eventName: 'ReEncrypt', calls: 1, firstCall: shown('10:35'), lastCall: shown('10:35') };
    expect(runQuery(keyUsageQuery(KEY_ARN), [reEncrypt])).toEqual([row]);
    expect(runQuery(keyUsageQuery(OTHER_KEY_ARN), [reEncrypt])).toEqual([row]);
  });

  test('but a call that names a key second without using it does not count for the key', () => {
    const updateAlias = FAILED_AND_OTHER_CALLS.filter(r => r.eventName === 'UpdateAlias');
    expect(updateAlias.map(r => (r.resources as Json[])[1].ARN)).toEqual([OTHER_KEY_ARN]);
    expect(runQuery(keyUsageQuery(OTHER_KEY_ARN), updateAlias)).toEqual([]);
  });

  test('a caller from another account is named by its account, which is all the AWSAccount identity gives', () => {
    const crossAccount = decryptBy(PARTNER, '203.0.113.25');
    expect(runQuery(query('key-usage'), [crossAccount]))
      .toEqual([{ keyArn: KEY_ARN, principal: PARTNER_ACCOUNT, via: '203.0.113.25', calls: 1, lastCall: shown('15:00') }]);
  });

  test('a direct call shows the address it came from, not a word the query makes up', () => {
    expect(runQuery(query('key-usage'), [decryptBy(APP, '203.0.113.99')]).map(r => r.via)).toEqual(['203.0.113.99']);
  });

  test('a Decapsulate counts as a use of its ML-KEM key', () => {
    const decapsulate = KEY_USE.filter(r => r.eventName === 'Decapsulate');
    expect(runQuery(query('key-usage'), decapsulate))
      .toEqual([{ keyArn: ML_KEM_KEY_ARN, principal: KEY_EXCHANGE_ROLE, via: KEY_EXCHANGE_IP, calls: 1, lastCall: shown('10:57') }]);
  });
});

// ---------------------------------------------------------------------------
// What the queries do not show: reported, not fixed here
// ---------------------------------------------------------------------------

describe('limits of the queries as written', () => {
  test('key-usage counts a ReEncrypt for its source key only: it groups each record by resources.0, and the destination key is resources.1', () => {
    expect(runQuery(query('key-usage'), KEY_USE.filter(r => r.eventName === 'ReEncrypt')))
      .toEqual([{ keyArn: KEY_ARN, principal: APP_ROLE, via: DIRECT_IP, calls: 1, lastCall: shown('10:35') }]);
  });

  test('key-usage gives a principal one row for each address it calls from directly', () => {
    const calls = [decryptBy(APP, '10.0.2.27'), decryptBy(APP, '10.0.1.15'), decryptBy(APP, '10.0.2.27')];
    expect(runQuery(query('key-usage'), calls).map(r => [r.principal, r.via, r.calls])).toEqual([[APP_ROLE, '10.0.2.27', 2], [APP_ROLE, '10.0.1.15', 1]]);
  });
});
