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
