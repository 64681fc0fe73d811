/**
 * Test helper: KMS events as CloudTrail records them, modelled on the records the
 * AWS KMS developer guide shows, for the tests that evaluate the audit trail's
 * filter patterns and alarms offline.
 */

export const ACCOUNT = '111111111111';
export const REGION = 'us-east-1';
export const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
export const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${KEY_ID}`;
export const KEY_RESOURCES = [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: KEY_ARN }];

/** A person at the console or CLI, through an assumed role. */
export const ADMIN = {
  type: 'AssumedRole',
  principalId: 'AROAEXAMPLEADMIN0001:alice',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/KeyAdmin/alice`,
  accountId: ACCOUNT,
  accessKeyId: 'ASIAEXAMPLEADMIN0001',
  sessionContext: {
    sessionIssuer: {
      type: 'Role',
      principalId: 'AROAEXAMPLEADMIN0001',
      arn: `arn:aws:iam::${ACCOUNT}:role/KeyAdmin`,
      accountId: ACCOUNT,
      userName: 'KeyAdmin',
    },
    attributes: { creationDate: '2024-05-01T11:58:00Z', mfaAuthenticated: 'true' },
  },
};

/** An application role (instance profile) that uses the key. */
export const APP = {
  type: 'AssumedRole',
  principalId: 'AROAEXAMPLEAPP000001:i-0abcd1234efgh5678',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/AppRole/i-0abcd1234efgh5678`,
  accountId: ACCOUNT,
  accessKeyId: 'ASIAEXAMPLEAPP000001',
  sessionContext: {
    sessionIssuer: {
      type: 'Role',
      principalId: 'AROAEXAMPLEAPP000001',
      arn: `arn:aws:iam::${ACCOUNT}:role/AppRole`,
      accountId: ACCOUNT,
      userName: 'AppRole',
    },
    attributes: { creationDate: '2024-05-01T11:00:00Z', mfaAuthenticated: 'false' },
  },
};

export type Json = Record<string, unknown>;

let eventCounter = 0;

/**
 * A KMS management event as CloudTrail records it. `fields` overrides or adds
 * top-level fields; a field set to `undefined` is removed (e.g. `resources`).
 */
export function kmsEvent(eventName: string, fields: Json = {}): Json {
  eventCounter++;
  const suffix = String(eventCounter).padStart(12, '0');
  const event: Json = {
    eventVersion: '1.09',
    userIdentity: ADMIN,
    eventTime: '2024-05-01T12:00:00Z',
    eventSource: 'kms.amazonaws.com',
    eventName,
    awsRegion: REGION,
    sourceIPAddress: '192.0.2.10',
    userAgent: 'aws-cli/2.15.40 md/awscrt#0.19.19 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11.8 cfg/retry-mode#standard md/command#kms',
    requestParameters: { keyId: KEY_ID },
    responseElements: null,
    requestID: `0d3c5a1e-9e1f-4b5c-8f2a-${suffix}`,
    eventID: `6a1f4c2b-3d5e-4f70-9a8b-${suffix}`,
    readOnly: false,
    resources: KEY_RESOURCES,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: ACCOUNT,
    eventCategory: 'Management',
    tlsDetails: {
      tlsVersion: 'TLSv1.3',
      cipherSuite: 'TLS_AES_128_GCM_SHA256',
      clientProvidedHostHeader: `kms.${REGION}.amazonaws.com`,
    },
    ...fields,
  };
  for (const [name, value] of Object.entries(event)) {
    if (value === undefined) delete event[name];
  }
  return event;
}

/** How an AWS service appears when it calls KMS for a user (forward access session). */
export function viaService(service: string): Json {
  return {
    userIdentity: { ...APP, invokedBy: service },
    sourceIPAddress: service,
    userAgent: service,
  };
}

/**
 * A session of a role, as CloudTrail records a call made with the role's temporary
 * credentials (the `AssumedRole` form of `userIdentity`).
 * @see https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
 */
export function roleSession(roleArn: string, sessionName: string, roleId = 'AROAEXAMPLEROLE00001'): Json {
  const parsed = /^arn:([^:]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  if (!parsed) throw new Error(`not a role ARN: ${roleArn}`);
  const [, partition, account, roleName] = parsed;
  return {
    type: 'AssumedRole',
    principalId: `${roleId}:${sessionName}`,
    arn: `arn:${partition}:sts::${account}:assumed-role/${roleName}/${sessionName}`,
    accountId: account,
    accessKeyId: 'ASIAEXAMPLESESSION01',
    sessionContext: {
      sessionIssuer: { type: 'Role', principalId: roleId, arn: roleArn, accountId: account, userName: roleName },
      attributes: { creationDate: '2024-05-01T11:59:58Z', mfaAuthenticated: 'false' },
    },
  };
}

/**
 * The role the audit watch's heartbeat schedule assumes: a made-up ARN, named as
 * CloudFormation names a role it creates (stack, logical id, random suffix).
 */
export const HEARTBEAT_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/TestStack-KeyAuditTrailHeartbeatRole-1A2B3C4D5E6F`;

/**
 * The watch's heartbeat: `DescribeKey` on a key, as EventBridge Scheduler's
 * universal target (`arn:aws:scheduler:::aws-sdk:kms:describeKey`) calls it with the
 * schedule's role. The identity is the role's session; the other fields follow the
 * KMS guide's DescribeKey record (a read-only call, response not recorded). No
 * pattern reads `sourceIPAddress` or `userAgent`.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/ct-describekey.html
 * @see https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-universal.html
 */
export function heartbeatRecord(keyArn: string, roleArn: string = HEARTBEAT_ROLE_ARN, fields: Json = {}): Json {
  return kmsEvent('DescribeKey', {
    userIdentity: roleSession(roleArn, 'f3a9c2d4e5b6a7c8d9e0f1a2b3c4d5e6', 'AROAEXAMPLEHEARTBEAT'),
    sourceIPAddress: 'scheduler.amazonaws.com',
    userAgent: 'scheduler.amazonaws.com',
    requestParameters: { keyId: keyArn },
    responseElements: null,
    readOnly: true,
    resources: [{ accountId: keyArn.split(':')[4], type: 'AWS::KMS::Key', ARN: keyArn }],
    ...fields,
  });
}

/**
 * A CloudTrail record as EventBridge delivers it ("AWS API Call via CloudTrail", in
 * the Region where the call happened), and as a rule with a CloudWatch Logs target
 * writes it to the log group: the event, with the record under `detail`.
 * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html
 * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html
 */
export function eventBridgeEvent(record: Json): Json {
  const eventSource = String(record.eventSource);
  return {
    'version': '0',
    // A UUID of its own, made from the record's for repeatable tests.
    'id': `e0b1c2d3${String(record.eventID).slice(8)}`,
    'detail-type': 'AWS API Call via CloudTrail',
    'source': `aws.${eventSource.replace(/\.amazonaws\.com$/, '')}`,
    'account': record.recipientAccountId,
    'time': record.eventTime,
    'region': record.awsRegion,
    'resources': [],
    'detail': record,
  };
}
