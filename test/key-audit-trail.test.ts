import { App, Duration, Stack, Stage } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { ClassifiedKey, DataClassification, KeyAuditTrail } from '../src';
import { nagFindings } from './support/nag';
import { ACCOUNT, newBareStack, newStack, REGION } from './support/stack';

const CIS_PATTERN = '{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}';

/** Logical id of a construct's default child. */
function idOf(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as any);
}

describe('the trail a stack gets from its first key', () => {
  let stack: Stack;
  let trail: KeyAuditTrail;
  let template: Template;
  beforeAll(() => {
    stack = newBareStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    new ClassifiedKey(stack, 'Other', { classification: DataClassification.INTERNAL });
    trail = key.auditTrail!;
    template = Template.fromStack(stack);
  });

  test('is one trail for the stack, shared by every key', () => {
    template.resourceCountIs('AWS::CloudTrail::Trail', 1);
    expect(KeyAuditTrail.of(stack)).toBe(trail);
    expect(trail.node.path).toBe('TestStack/KeyAuditTrail');
  });

  test('is multi-Region, validates log files, records all management events including KMS', () => {
    const [props] = Object.values(template.findResources('AWS::CloudTrail::Trail')).map(r => r.Properties);
    expect(props).toMatchObject({
      TrailName: 'TestStack-key-audit',
      IsMultiRegionTrail: true,
      IncludeGlobalServiceEvents: true,
      EnableLogFileValidation: true,
      IsLogging: true,
      KMSKeyId: { 'Fn::GetAtt': [idOf(stack, trail.auditKey!), 'Arn'] },
      CloudWatchLogsLogGroupArn: { 'Fn::GetAtt': [idOf(stack, trail.trailLogGroup as logs.LogGroup), 'Arn'] },
    });
    // No selector narrows management events, and KMS events are never excluded.
    for (const selector of props.EventSelectors ?? []) {
      expect(selector.IncludeManagementEvents).not.toBe(false);
      expect(selector.ReadWriteType ?? 'All').toBe('All');
      expect(selector.ExcludeManagementEventSources ?? []).toEqual([]);
    }
    expect(props.AdvancedEventSelectors).toBeUndefined();
  });

  test('delivers to a log group encrypted with the audit key, kept a year and on deletion', () => {
    template.hasResource('AWS::Logs::LogGroup', {
      DeletionPolicy: 'Retain',
      Properties: {
        LogGroupName: '/aws/cloudtrail/TestStack-key-audit',
        RetentionInDays: 365,
        KmsKeyId: { 'Fn::GetAtt': [idOf(stack, trail.auditKey!), 'Arn'] },
      },
    });
  });

  test('the audit key is itself a CONFIDENTIAL ClassifiedKey, retained and alarmed', () => {
    expect(trail.auditKey!.classification).toBe(DataClassification.CONFIDENTIAL);
    // The heartbeat describes it, so the shared alarms leave it out, and its own changes alarm watches it.
    expect(trail.auditKey!.alarms.map(a => a.node.id)).toEqual(['HeartbeatKeyChangesAlarm', 'DeniedRequestsAlarm']);
    template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ Description: Match.stringLikeRegexp('Encrypts the KMS audit logs') }),
    });
  });

  test('the trail bucket is KMS-encrypted, versioned, private, TLS-only and logs its access elsewhere', () => {
    const bucketId = idOf(stack, trail.bucket!);
    const accessLogsId = idOf(stack, trail.accessLogsBucket!);
    expect(bucketId).not.toEqual(accessLogsId);
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: { 'Fn::GetAtt': [idOf(stack, trail.auditKey!), 'Arn'] },
            },
          }],
        },
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true,
        },
        LoggingConfiguration: Match.objectLike({ DestinationBucketName: { Ref: accessLogsId } }),
      }),
    });
    for (const id of [bucketId, accessLogsId]) {
      const policy = Object.values(template.findResources('AWS::S3::BucketPolicy'))
        .find(p => JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: id }))!;
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(expect.objectContaining({
        Effect: 'Deny',
        Action: 's3:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }));
      expect(template.toJSON().Resources[id].DeletionPolicy).toBe('Retain');
    }
  });

  test('the trail bucket is locked in governance mode for the log retention, and archived without losing a day', () => {
    const bucket = template.toJSON().Resources[idOf(stack, trail.bucket!)].Properties;
    expect(bucket.ObjectLockEnabled).toBe(true);
    expect(bucket.ObjectLockConfiguration).toEqual({
      ObjectLockEnabled: 'Enabled',
      Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 365 } },
    });
    expect(bucket.LifecycleConfiguration.Rules).toEqual([
      {
        Id: 'ArchiveAuditLogs',
        Status: 'Enabled',
        Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }],
        ExpirationInDays: 365,
        NoncurrentVersionExpiration: { NoncurrentDays: 30 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
      },
      { Id: 'RemoveExpiredDeleteMarkers', Status: 'Enabled', ExpiredObjectDeleteMarker: true },
    ]);
  });

  test('both buckets disable ACLs, send their events to EventBridge, and have a lifecycle', () => {
    for (const bucket of [trail.bucket!, trail.accessLogsBucket!]) {
      const properties = template.toJSON().Resources[idOf(stack, bucket)].Properties;
      expect(properties.AccessControl).toBeUndefined();
      expect(properties.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
      expect(properties.NotificationConfiguration).toEqual({ EventBridgeConfiguration: { EventBridgeEnabled: true } });
      expect(properties.LifecycleConfiguration.Rules.map((r: any) => r.Id)).toEqual(['ArchiveAuditLogs', 'RemoveExpiredDeleteMarkers']);
    }
    // No Lambda-backed notification resource: CloudFormation sets EventBridge natively.
    template.resourceCountIs('Custom::S3BucketNotifications', 0);
    template.resourceCountIs('AWS::Lambda::Function', 0);
  });

  test('the access-log bucket has Object Lock on (CT.S3.PR.9) with no default retention, which S3 refuses on a log destination', () => {
    const properties = template.toJSON().Resources[idOf(stack, trail.accessLogsBucket!)].Properties;
    expect(properties.ObjectLockEnabled).toBe(true);
    expect(properties.ObjectLockConfiguration).toBeUndefined();
    expect(properties.LoggingConfiguration).toBeUndefined();
    expect(properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault).toEqual({ SSEAlgorithm: 'AES256' });
  });

  test('the CIS 3.7 / 4.7 filter has exactly the CIS pattern, and its alarm notifies the topic', () => {
    const filters = Object.values(template.findResources('AWS::Logs::MetricFilter')).map(f => f.Properties);
    const cis = filters.filter(f => f.FilterPattern === CIS_PATTERN);
    expect(cis).toHaveLength(1);
    expect(cis[0].MetricTransformations).toEqual([{
      MetricNamespace: 'KmsKeyAudit/TestStack',
      MetricName: 'KeyDisabledOrScheduledForDeletion',
      MetricValue: '1',
    }]);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'KeyDisabledOrScheduledForDeletion',
      Namespace: 'KmsKeyAudit/TestStack',
      Statistic: 'Sum',
      Threshold: 1,
      ActionsEnabled: true,
      AlarmActions: [{ Ref: idOf(stack, trail.alarmTopic as sns.Topic) }],
    });
  });

  test('the alarm topic is encrypted with the audit key and TLS-only', () => {
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [idOf(stack, trail.auditKey!), 'Arn'] },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('every alarm of the stack has an action and actions enabled', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    // CIS, the shared three, the heartbeat's two, the audit key's and the CONFIDENTIAL key's own
    expect(alarms.length).toBe(1 + 3 + 2 + 1 + 1);
    for (const alarm of alarms) {
      expect(alarm.Properties.ActionsEnabled).toBe(true);
      expect(alarm.Properties.AlarmActions).toHaveLength(1);
    }
  });

  test('cdk-nag reports nothing on the stack, trail and buckets included', () => {
    expect(nagFindings(stack.node.root)).toEqual([]);
  });
});

describe('alarms follow the classification', () => {
  function alarmsOf(classification: DataClassification, extra: object = {}) {
    const stack = newStack();
    // The first key the trail watches is its heartbeat's (there is no audit key here): test another.
    new ClassifiedKey(stack, 'First', { classification: DataClassification.INTERNAL });
    const key = new ClassifiedKey(stack, 'Key', { classification, viaServices: ['s3'], ...extra });
    const resources = Template.fromStack(stack).toJSON().Resources;
    const byId = (alarm: any) => resources[stack.getLogicalId(alarm.node.defaultChild)].Properties;
    return { key, alarms: key.alarms.map(a => ({ id: a.node.id, props: byId(a) })) };
  }

  test.each([DataClassification.PUBLIC, DataClassification.INTERNAL])('%s: the trail\'s shared alarms only, no resource of its own', (classification) => {
    const { alarms, key } = alarmsOf(classification);
    expect(alarms.map(a => a.id)).toEqual(['KeyStateChangesAlarm', 'KeyPolicyOrGrantChangesAlarm', 'KeyAliasOrTagChangesAlarm']);
    for (const alarm of key.alarms) expect(alarm.node.scope).toBe(key.auditTrail);
  });

  test('the shared alarms query every key\'s metric, one contributor per key ARN', () => {
    const { alarms } = alarmsOf(DataClassification.INTERNAL);
    const [state, access] = alarms.map(a => a.props);
    expect(state).toMatchObject({
      Metrics: [{
        Expression: {
          'Fn::Join': ['', [
            'SELECT SUM(KeyStateChanges) FROM SCHEMA("KmsKeyAudit/TestStack", KeyArn) WHERE KeyArn != \'',
            { 'Fn::GetAtt': [expect.stringMatching(/^First/), 'Arn'] },
            '\' GROUP BY KeyArn ORDER BY SUM() DESC',
          ]],
        },
        Period: 300,
        ReturnData: true,
      }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      EvaluationPeriods: 1,
    });
    expect(access.Metrics[0].Expression['Fn::Join'][1][0]).toBe('SELECT SUM(KeyPolicyOrGrantChanges) FROM SCHEMA("KmsKeyAudit/TestStack", KeyArn) WHERE KeyArn != \'');
  });

  test.each([
    [DataClassification.CONFIDENTIAL, 10],
    [DataClassification.RESTRICTED, 3],
  ])('%s: an alarm of its own on more than %d denied requests in 5 minutes', (classification, threshold) => {
    const { alarms } = alarmsOf(classification);
    expect(alarms.map(a => a.id)).toEqual(['KeyStateChangesAlarm', 'KeyPolicyOrGrantChangesAlarm', 'KeyAliasOrTagChangesAlarm', 'DeniedRequestsAlarm']);
    expect(alarms[3].props).toMatchObject({
      Namespace: 'KmsKeyAudit/TestStack',
      MetricName: 'KeyDeniedRequests',
      Dimensions: [{ Name: 'KeyArn', Value: { 'Fn::GetAtt': [expect.any(String), 'Arn'] } }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: threshold,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  test('imported material: the trail\'s expiry alarm watches SecondsUntilKeyMaterialExpiration of every key, made once', () => {
    const stack = newStack();
    const a = new ClassifiedKey(stack, 'A', { classification: DataClassification.CONFIDENTIAL, importKeyMaterial: true });
    const b = new ClassifiedKey(stack, 'B', { classification: DataClassification.INTERNAL, importKeyMaterial: true });
    const plain = new ClassifiedKey(stack, 'C', { classification: DataClassification.INTERNAL });
    const expiry = a.alarms.find(x => x.node.id === 'KeyMaterialExpiryAlarm')!;
    expect(b.alarms).toContain(expiry);
    expect(plain.alarms).not.toContain(expiry);
    const props = Template.fromStack(stack).toJSON().Resources[stack.getLogicalId((expiry as any).node.defaultChild)].Properties;
    expect(props).toMatchObject({
      Metrics: [{ Expression: 'SELECT MIN(SecondsUntilKeyMaterialExpiration) FROM SCHEMA("AWS/KMS", KeyId) GROUP BY KeyId ORDER BY MIN() ASC', Period: 300 }],
      Threshold: 2592000,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  test('a key\'s own alarmTopic receives its own alarm', () => {
    const stack = newStack();
    const topic = sns.Topic.fromTopicArn(stack, 'PaymentsOnCall', `arn:aws:sns:${REGION}:${ACCOUNT}:payments-on-call`);
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL, alarmTopic: topic });
    const own = key.alarms.find(a => a.node.id === 'DeniedRequestsAlarm')!;
    expect(stack.resolve((own.node.defaultChild as any).alarmActions)).toEqual([`arn:aws:sns:${REGION}:${ACCOUNT}:payments-on-call`]);
  });

  test('alarmTopic on a key without an alarm of its own is an error, not ignored', () => {
    const stack = newStack();
    const topic = sns.Topic.fromTopicArn(stack, 'PaymentsOnCall', `arn:aws:sns:${REGION}:${ACCOUNT}:payments-on-call`);
    expect(() => new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, alarmTopic: topic })).toThrow(
      'alarmTopic is notified by the key\'s own alarm, which only CONFIDENTIAL and RESTRICTED keys have (denied requests); the trail\'s shared alarms notify the trail\'s alarmTopic, got TestStack/PaymentsOnCall for a INTERNAL key',
    );
  });

  test('metric methods give the key\'s dimensioned metrics for dashboards', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    const dims = (m: any) => stack.resolve(m.dimensions);
    expect(key.metricStateChanges().metricName).toBe('KeyStateChanges');
    expect(key.metricPolicyOrGrantChanges().metricName).toBe('KeyPolicyOrGrantChanges');
    expect(key.metricDeniedRequests().metricName).toBe('KeyDeniedRequests');
    expect(dims(key.metricDeniedRequests())).toEqual({ KeyArn: stack.resolve(key.keyArn) });
    expect(dims(key.metricSecondsUntilKeyMaterialExpiration())).toEqual({ KeyId: stack.resolve(key.keyId) });
  });

  test('monitoring can be turned off for INTERNAL keys, leaving no alarm', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, monitoring: false });
    expect(key.alarms).toEqual([]);
    expect(key.auditTrail).toBeUndefined();
    expect(() => key.metricDeniedRequests()).toThrow('KeyDeniedRequests is counted by the audit trail, and monitoring is off for TestStack/Key');
  });

  test.each([DataClassification.CONFIDENTIAL, DataClassification.RESTRICTED])('fails when monitoring is turned off for a %s key', (classification) => {
    const stack = newStack();
    expect(() => new ClassifiedKey(stack, 'Key', { classification, monitoring: false, viaServices: ['s3'] }))
      .toThrow(`monitoring must not be false for a ${classification} key, got false`);
  });
});

describe('an organization trail: existingLogGroup', () => {
  test('creates no trail or bucket; the CIS filter attaches to the given log group, the per-key filters to the watch\'s', () => {
    const stack = newBareStack();
    new KeyAuditTrail(stack, 'Audit', {
      existingLogGroup: logs.LogGroup.fromLogGroupName(stack, 'OrgTrail', 'aws-controltower/CloudTrailLogs'),
    });
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudTrail::Trail', 0);
    template.resourceCountIs('AWS::S3::Bucket', 0);
    // Only the watch's log group, which EventBridge fills.
    template.resourceCountIs('AWS::Logs::LogGroup', 1);
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/events/kms-key-audit/TestStack' });
    const filters = Object.values(template.findResources('AWS::Logs::MetricFilter')).map(f => f.Properties);
    expect(filters).toHaveLength(7);
    expect(filters.filter(f => f.LogGroupName === 'aws-controltower/CloudTrailLogs').map(f => f.FilterPattern)).toEqual([CIS_PATTERN]);
    for (const filter of filters.filter(f => f.FilterPattern !== CIS_PATTERN)) {
      expect(filter.LogGroupName).toEqual({ Ref: expect.stringMatching(/^AuditEventsLogGroup/) });
    }
    // The alarm topic still needs an encryption key: the audit key.
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.resourceCountIs('AWS::KMS::Key', 2);
  });

  test('cdk-nag reports nothing on a stack attached to an existing trail', () => {
    const stack = newBareStack();
    new KeyAuditTrail(stack, 'Audit', {
      existingLogGroup: logs.LogGroup.fromLogGroupName(stack, 'OrgTrail', 'aws-controltower/CloudTrailLogs'),
      logReaders: [new iam.Role(stack, 'Auditors', { assumedBy: new iam.AccountRootPrincipal() })],
    });
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.RESTRICTED, encryptionContextKeys: ['tenant'] });
    const own = nagFindings(stack.node.root).filter(f => !f.includes(' TestStack/Auditors/'));
    expect(own).toEqual([]);
  });

  test('with an alarm topic too, no audit key is created', () => {
    const template = Template.fromStack((() => {
      const stack = newStack();
      new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
      return stack;
    })());
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.resourceCountIs('AWS::SNS::Topic', 0);
  });
});

describe('trail options', () => {
  test('alarm emails subscribe to the created topic', () => {
    const stack = newBareStack();
    new KeyAuditTrail(stack, 'Audit', { alarmEmails: ['secops@example.com', 'oncall@example.com'] });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SNS::Subscription', 2);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'secops@example.com' });
  });

  test('a longer retention is kept', () => {
    const stack = newBareStack();
    new KeyAuditTrail(stack, 'Audit', { retention: logs.RetentionDays.TWO_YEARS });
    Template.fromStack(stack).hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 731 });
  });

  test('a trail declared first serves the keys of its stack', () => {
    const stack = newBareStack();
    const audit = new KeyAuditTrail(stack, 'Audit', { trailName: 'kms-audit' });
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    expect(key.auditTrail).toBe(audit);
    Template.fromStack(stack).resourceCountIs('AWS::CloudTrail::Trail', 1);
  });

  test('fails at synth when a trail is declared after a key made the default one', () => {
    const stack = newBareStack();
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    new KeyAuditTrail(stack, 'Audit', { trailName: 'kms-audit' });
    expect(() => Template.fromStack(stack)).toThrow(/a KeyAuditTrail was declared in TestStack after a ClassifiedKey created the stack's default one \(TestStack\/KeyAuditTrail\)/);
  });

  test('a compliance-mode lock longer than the retention is kept, and log files expire when it ends', () => {
    const stack = newBareStack();
    new KeyAuditTrail(stack, 'Audit', { objectLockRetention: s3.ObjectLockRetention.compliance(Duration.days(2557)) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2557 } } },
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Id: 'ArchiveAuditLogs', ExpirationInDays: 2557 })]) },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });

  test('logs kept forever are locked for the longest retention and never expire', () => {
    const stack = newBareStack();
    new KeyAuditTrail(stack, 'Audit', { retention: logs.RetentionDays.INFINITE });
    const buckets = Object.values(Template.fromStack(stack).findResources('AWS::S3::Bucket')).map(b => b.Properties);
    expect(buckets).toHaveLength(2);
    for (const bucket of buckets) {
      expect(bucket.LifecycleConfiguration.Rules[0].ExpirationInDays).toBeUndefined();
      expect(bucket.LifecycleConfiguration.Rules[0].NoncurrentVersionExpiration).toEqual({ NoncurrentDays: 30 });
    }
    expect(buckets.find(b => b.ObjectLockEnabled)!.ObjectLockConfiguration.Rule.DefaultRetention).toEqual({ Mode: 'GOVERNANCE', Days: 9999 });
  });

  test('accessLogsBucket: the organization\'s log bucket receives the access logs, and no access-log bucket is created', () => {
    // GIVEN the organization's log bucket, in another stack of the app
    const logArchive = newBareStack('LogArchive');
    const orgLogs = new s3.Bucket(logArchive, 'AccessLogs', { enforceSSL: true });
    const stack = new Stack(logArchive.node.root, 'Keys', { env: { account: ACCOUNT, region: REGION } });
    // WHEN
    const audit = new KeyAuditTrail(stack, 'Audit', { trailName: 'kms-audit', accessLogsBucket: orgLogs });
    // THEN the trail bucket logs there, under the trail's prefix (the trail is made once the app is complete)
    const template = Template.fromStack(stack);
    expect(audit.accessLogsBucket).toBe(orgLogs);
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: { 'Fn::ImportValue': Match.anyValue() }, LogFilePrefix: 'kms-audit/' },
    });
    // AND S3's logging service may write that prefix for this account, by a statement that names nothing of the trail's stack
    Template.fromStack(logArchive).hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([{
          Effect: 'Allow',
          Principal: { Service: 'logging.s3.amazonaws.com' },
          Action: 's3:PutObject',
          Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.anyValue(), 'Arn'] }, '/kms-audit/*']] },
          Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } },
        }]),
      },
    });
    expect(nagFindings(stack)).toEqual([]);
  });

  test('accessLogsBucket: an imported bucket is used, with a warning naming the statement its policy needs', () => {
    const stack = newBareStack();
    const audit = new KeyAuditTrail(stack, 'Audit', {
      trailName: 'kms-audit',
      accessLogsBucket: s3.Bucket.fromBucketName(stack, 'OrgLogs', 'org-access-logs'),
    });
    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: 'org-access-logs', LogFilePrefix: 'kms-audit/' },
    });
    const warnings = Annotations.fromStack(stack).findWarning(`/${audit.node.path}`, Match.stringLikeRegexp('logging.s3.amazonaws.com'));
    expect(warnings.map(w => w.entry.data)).toEqual([
      expect.stringContaining(`must allow logging.s3.amazonaws.com s3:PutObject on kms-audit/* for aws:SourceAccount ${ACCOUNT}`),
    ]);
  });

  const bad: Array<[string, (stack: Stack) => void, string | RegExp]> = [
    ['objectLockRetention is shorter than the retention', s => new KeyAuditTrail(s, 'A', {
      retention: logs.RetentionDays.TWO_YEARS, objectLockRetention: s3.ObjectLockRetention.governance(Duration.days(365)),
    }), 'objectLockRetention must be at least the log retention of 731 days, so that no audit log leaves the archive early, got 365 days'],
    ['objectLockRetention is given with an existing log group', s => new KeyAuditTrail(s, 'A', {
      existingLogGroup: logs.LogGroup.fromLogGroupName(s, 'L', 'org'), objectLockRetention: s3.ObjectLockRetention.governance(Duration.days(400)),
    }), 'existingLogGroup is the log group of a trail you have, so nothing of a created trail applies: got objectLockRetention of 400 days with existingLogGroup TestStack/L'],
    ['accessLogsBucket is given with an existing log group', s => new KeyAuditTrail(s, 'A', {
      existingLogGroup: logs.LogGroup.fromLogGroupName(s, 'L', 'org'), accessLogsBucket: s3.Bucket.fromBucketName(s, 'B', 'org-logs'),
    }), 'existingLogGroup is the log group of a trail you have, so nothing of a created trail applies: got accessLogsBucket TestStack/B with existingLogGroup TestStack/L'],
    ['createTrail is given with an existing log group', s => new KeyAuditTrail(s, 'A', {
      existingLogGroup: logs.LogGroup.fromLogGroupName(s, 'L', 'org'), createTrail: true,
    }), 'existingLogGroup is the log group of a trail you have, so nothing of a created trail applies: got createTrail true with existingLogGroup TestStack/L'],
    ['accessLogsBucket is in another Region', s => new KeyAuditTrail(s, 'A', {
      accessLogsBucket: s3.Bucket.fromBucketAttributes(s, 'B', { bucketName: 'org-logs', region: 'eu-west-1' }),
    }), 'accessLogsBucket must be in the trail\'s Region us-east-1, where S3 delivers its access logs, got TestStack/B in eu-west-1'],
    ['accessLogsBucket is in another account', s => new KeyAuditTrail(s, 'A', {
      accessLogsBucket: s3.Bucket.fromBucketAttributes(s, 'B', { bucketName: 'org-logs', account: '999999999999' }),
    }), 'accessLogsBucket must be in the trail\'s account 111111111111, where S3 delivers its access logs, got TestStack/B in 999999999999'],

    ['retention is shorter than a year', s => new KeyAuditTrail(s, 'A', { retention: logs.RetentionDays.SIX_MONTHS }),
      'retention must be at least 365 days for audit logs, got 180'],
    ['trailName has a space', s => new KeyAuditTrail(s, 'A', { trailName: 'kms audit' }),
      'trailName must be 3-128 letters, digits, ".", "_" or "-", start and end with a letter or digit, have no two of ".", "_", "-" in a row and not look like an IP address, got "kms audit"'],
    ['trailName is given with an existing log group', s => new KeyAuditTrail(s, 'A', {
      existingLogGroup: logs.LogGroup.fromLogGroupName(s, 'L', 'org'), trailName: 'kms-audit',
    }), 'existingLogGroup is the log group of a trail you have, so nothing of a created trail applies: got trailName "kms-audit" with existingLogGroup TestStack/L'],
    ['an alarm email is malformed', s => new KeyAuditTrail(s, 'A', { alarmEmails: ['secops'] }),
      'alarmEmails entries must be email addresses, got "secops"'],
    ['alarm emails are given with an alarm topic', s => new KeyAuditTrail(s, 'A', {
      alarmTopic: sns.Topic.fromTopicArn(s, 'T', `arn:aws:sns:${REGION}:${ACCOUNT}:t`), alarmEmails: ['a@example.com'],
    }), 'alarmEmails subscribe to the created topic; subscribe them to your alarmTopic instead, got a@example.com with alarmTopic TestStack/T'],
    ['a key passes an alarm topic with monitoring off', s => new ClassifiedKey(s, 'K', {
      classification: DataClassification.INTERNAL,
      monitoring: false,
      alarmTopic: sns.Topic.fromTopicArn(s, 'T', `arn:aws:sns:${REGION}:${ACCOUNT}:t`),
    }), 'auditTrail and alarmTopic must not be given when monitoring is false, got alarmTopic TestStack/T'],
  ];
  test('fails when a key is given the trail of another region', () => {
    const east = newBareStack('East');
    const trail = new KeyAuditTrail(east, 'Audit');
    const west = new Stack(east.node.root, 'West', { env: { account: ACCOUNT, region: 'us-west-2' } });
    expect(() => new ClassifiedKey(west, 'Key', { classification: DataClassification.INTERNAL, auditTrail: trail }))
      .toThrow('auditTrail must be in the key\'s region: the key is in us-west-2, the trail East/Audit in us-east-1');
  });

  test('a key may use the trail of another stack in its account and region', () => {
    const shared = newBareStack('Audit');
    const trail = new KeyAuditTrail(shared, 'Audit');
    const app = new Stack(shared.node.root, 'App', { env: { account: ACCOUNT, region: REGION } });
    const key = new ClassifiedKey(app, 'Key', { classification: DataClassification.INTERNAL, auditTrail: trail });
    expect(key.auditTrail).toBe(trail);
    Template.fromStack(app).resourceCountIs('AWS::CloudTrail::Trail', 0);
  });

  test('fails at synth when a trail with no audit key watches no key, so its heartbeat has nothing to describe', () => {
    const stack = newBareStack();
    new KeyAuditTrail(stack, 'Audit', {
      existingLogGroup: logs.LogGroup.fromLogGroupName(stack, 'OrgTrail', 'org-trail'),
      alarmTopic: sns.Topic.fromTopicArn(stack, 'Alarms', `arn:aws:sns:${REGION}:${ACCOUNT}:security-alarms`),
    });
    expect(() => Template.fromStack(stack)).toThrow(
      'the KeyAuditTrail TestStack/Audit watches no key and has no audit key, so its heartbeat has no key to describe: give it no alarmTopic, or pass it to a key as auditTrail');
  });

  test.each(bad)('fails when %s', (_name, build, message) => {
    expect(() => build(newBareStack())).toThrow(message);
  });
});

describe('100 keys in one stack', () => {
  let template: Template;
  let keys: ClassifiedKey[];
  beforeAll(() => {
    const stack = newBareStack();
    const adminRole = new iam.Role(stack, 'KeyAdmins', { assumedBy: new iam.AccountRootPrincipal() });
    const userRole = new iam.Role(stack, 'KeyUsers', { assumedBy: new iam.AccountRootPrincipal() });
    keys = Array.from({ length: 100 }, (_, i) => new ClassifiedKey(stack, `Key${i}`, {
      classification: [DataClassification.INTERNAL, DataClassification.CONFIDENTIAL][i % 2],
      keySpec: i % 10 === 9 ? kms.KeySpec.HMAC_256 : undefined,
      adminRole,
      userRole,
    }));
    template = Template.fromStack(stack);
  });

  test('fit the CloudFormation and CloudWatch Logs quotas', () => {
    expect(Object.keys(template.toJSON().Resources).length).toBeLessThanOrEqual(500);
    const filtersPerLogGroup = new Map<string, number>();
    for (const filter of Object.values(template.findResources('AWS::Logs::MetricFilter'))) {
      const group = JSON.stringify(filter.Properties.LogGroupName);
      filtersPerLogGroup.set(group, (filtersPerLogGroup.get(group) ?? 0) + 1);
    }
    expect(Math.max(...filtersPerLogGroup.values())).toBeLessThanOrEqual(100);
    // The watch's five per-key filters and its heartbeat's; the CIS filter on the trail's log group.
    expect([...filtersPerLogGroup.values()].sort()).toEqual([1, 6]);
  });

  test('every CONFIDENTIAL key has its own alarm, dimensioned by its own ARN; all share the trail\'s', () => {
    const resources = template.toJSON().Resources;
    const stack = Stack.of(keys[0]);
    for (const key of keys) {
      const own = key.alarms.filter(a => a.node.scope === key);
      expect(own).toHaveLength(key.classification === DataClassification.CONFIDENTIAL ? 1 : 0);
      const keyId = stack.getLogicalId(key.node.defaultChild as any);
      for (const alarm of own) {
        const props = resources[stack.getLogicalId(alarm.node.defaultChild as any)].Properties;
        expect(props.Dimensions).toEqual([{ Name: 'KeyArn', Value: { 'Fn::GetAtt': [keyId, 'Arn'] } }]);
      }
      const trail = keys[0].auditTrail!;
      const shared = [trail.keyStateChangesAlarm, trail.keyPolicyOrGrantChangesAlarm, trail.keyAliasOrTagChangesAlarm];
      expect(key.alarms.filter(a => a.node.scope !== key)).toEqual(shared);
    }
  });
});

describe('default keys at scale', () => {
  test.each([100, 200])('%d INTERNAL keys with default props synthesize within CloudFormation\'s quotas', (count) => {
    const app = new App();
    const stack = new Stack(app, 'Platform', { env: { account: ACCOUNT, region: REGION } });
    for (let i = 0; i < count; i++) new ClassifiedKey(stack, `Key${i}`, { classification: DataClassification.INTERNAL });
    // Synthesis itself checks the 500-resource quota; it must not throw.
    const template = app.synth().getStackByName('Platform').template;
    const resources = Object.values<any>(template.Resources);
    expect(resources.length).toBeLessThanOrEqual(500);
    // Two resources per key (key, alias), the shared admin role and the trail.
    expect(resources.filter(r => r.Type === 'AWS::KMS::Alias')).toHaveLength(count + 1);
    expect(resources.filter(r => r.Type === 'AWS::IAM::Role').length).toBeLessThanOrEqual(6);
    // CIS, shared, the heartbeat's two, the audit key's own
    expect(resources.filter(r => r.Type === 'AWS::CloudWatch::Alarm')).toHaveLength(1 + 3 + 2 + 1);
    // CloudFormation accepts a template of at most 1 MB; KMS a key policy of at most 32 KB.
    expect(Buffer.byteLength(JSON.stringify(template))).toBeLessThan(1024 * 1024);
    for (const key of resources.filter(r => r.Type === 'AWS::KMS::Key')) {
      expect(Buffer.byteLength(JSON.stringify(key.Properties.KeyPolicy))).toBeLessThan(32 * 1024);
    }
  });

  test('a stack attached to an existing trail\'s log group with its own topic makes no audit key', () => {
    const stack = newBareStack();
    const trail = new KeyAuditTrail(stack, 'KeyAuditTrail', {
      existingLogGroup: logs.LogGroup.fromLogGroupName(stack, 'OrgTrail', 'aws-controltower/CloudTrailLogs'),
      alarmTopic: sns.Topic.fromTopicArn(stack, 'OrgAlarms', `arn:aws:sns:${REGION}:${ACCOUNT}:org-alarms`),
    });
    new ClassifiedKey(stack, 'A', { classification: DataClassification.INTERNAL });
    new ClassifiedKey(stack, 'B', { classification: DataClassification.INTERNAL });
    expect(trail.auditKey).toBeUndefined();
    const types = Object.values<any>(Template.fromStack(stack).toJSON().Resources).map(r => r.Type).sort();
    expect(types).toEqual([
      ...Array(6).fill('AWS::CloudWatch::Alarm'), // CIS, the three shared and the heartbeat's two
      'AWS::Events::Rule', // the watch: KMS calls from EventBridge
      'AWS::IAM::ManagedPolicy', // the heartbeat role's (no audit key, so no log reader role)
      ...Array(2).fill('AWS::IAM::Role'), // the INTERNAL keys' admin role, the heartbeat's
      ...Array(2).fill('AWS::KMS::Alias'),
      ...Array(2).fill('AWS::KMS::Key'),
      'AWS::Logs::LogGroup', // the watch's, with CloudWatch Logs' own encryption
      ...Array(7).fill('AWS::Logs::MetricFilter'), // CIS, five per-key and the heartbeat
      'AWS::Logs::ResourcePolicy', // EventBridge writes to the watch's log group
      'AWS::Scheduler::Schedule', // the heartbeat
      'AWS::Scheduler::ScheduleGroup', // its own group, which its role's trust names
    ]);
  });
});

describe('the template deploys in one pass', () => {
  /** The logical ids a resource refers to: Ref, Fn::GetAtt, Fn::Sub and DependsOn. */
  function dependenciesOf(resource: any, ids: Set<string>): string[] {
    const found = new Set<string>(([] as string[]).concat(resource.DependsOn ?? []));
    const visit = (value: any): void => {
      if (Array.isArray(value)) return value.forEach(visit);
      if (value && typeof value === 'object') {
        if (typeof value.Ref === 'string' && ids.has(value.Ref)) found.add(value.Ref);
        if (Array.isArray(value['Fn::GetAtt']) && ids.has(value['Fn::GetAtt'][0])) found.add(value['Fn::GetAtt'][0]);
        Object.values(value).forEach(visit);
      }
    };
    visit(resource.Properties);
    return [...found];
  }

  test('no resource depends on itself through others (CloudFormation would refuse a cycle)', () => {
    const stack = newBareStack();
    new KeyAuditTrail(stack, 'KeyAuditTrail', { alarmEmails: ['secops@example.com'] });
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.RESTRICTED, viaServices: ['s3'], importKeyMaterial: true });
    const resources = Template.fromStack(stack).toJSON().Resources;
    const ids = new Set(Object.keys(resources));
    const state = new Map<string, 'visiting' | 'done'>();
    const walk = (id: string, path: string[]): void => {
      if (state.get(id) === 'done') return;
      if (state.get(id) === 'visiting') throw new Error(`cycle: ${[...path, id].join(' -> ')}`);
      state.set(id, 'visiting');
      for (const dep of dependenciesOf(resources[id], ids)) walk(dep, [...path, id]);
      state.set(id, 'done');
    };
    for (const id of ids) walk(id, []);
    expect(state.size).toBe(ids.size);
  });
});

describe('trails across stacks', () => {
  const keysIn = (app: App, name: string, region = REGION) => {
    const stack = new Stack(app, name, { env: { account: ACCOUNT, region } });
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    return stack;
  };

  const trailsOf = (stacks: Stack[]) => stacks.map(stack => Object.keys(Template.fromStack(stack).findResources('AWS::CloudTrail::Trail')).length);

  test('each stack watches its own keys, and the account\'s one trail is made in the stack whose name comes first', () => {
    const app = new App();
    const names = ['Payments', 'Ledger', 'Reporting', 'Identity', 'Search', 'Archive'];
    const stacks = names.map(name => keysIn(app, name));
    expect(trailsOf(stacks)).toEqual([0, 0, 0, 0, 0, 1]);
    for (const stack of stacks) {
      // The key's alarms and the watch are the stack's own: nothing is imported from another stack.
      const key = stack.node.findChild('Key') as ClassifiedKey;
      expect(key.auditTrail).toBe(KeyAuditTrail.of(stack));
      expect(Stack.of(key.auditTrail!)).toBe(stack);
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::Events::Rule', 1);
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: `KmsKeyAudit/${stack.stackName}`,
        MetricName: 'KeyDeniedRequests',
        AlarmActions: [{ Ref: Match.stringLikeRegexp('^KeyAuditTrailAlarmTopic') }],
      });
      expect(JSON.stringify(template.toJSON())).not.toContain('Fn::ImportValue');
      expect(stack.dependencies).toEqual([]);
    }
  });

  test('the trail\'s home does not depend on the order of the code', () => {
    const homes = [['Payments', 'Archive', 'Ledger'], ['Ledger', 'Payments', 'Archive'], ['Archive', 'Ledger', 'Payments']].map(order => {
      const app = new App();
      const stacks = order.map(name => keysIn(app, name));
      return stacks.filter((_, i) => trailsOf(stacks)[i] === 1).map(st => st.stackName);
    });
    expect(homes).toEqual([['Archive'], ['Archive'], ['Archive']]);
  });

  test('each Stage (a pipeline\'s stages) has trails of its own: no reference crosses stages', () => {
    const app = new App();
    const stacks = ['Beta', 'Prod'].map(name => {
      const stage = new Stage(app, name, { env: { account: ACCOUNT, region: REGION } });
      const stack = new Stack(stage, 'Keys');
      new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
      return stack;
    });
    expect(trailsOf(stacks)).toEqual([1, 1]);
  });

  test('another Region has its own watch and alarms, and no trail: the account has one, in the first Region by name', () => {
    const app = new App();
    const east = keysIn(app, 'East');
    const west = keysIn(app, 'West', 'us-west-2');
    expect(trailsOf([east, west])).toEqual([1, 0]);
    const template = Template.fromStack(west);
    template.resourceCountIs('AWS::Events::Rule', 1);
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: Match.stringLikeRegexp('arn:aws:kms:us-west-2:111111111111:key/\\*'),
    });
    expect(Object.values(template.findResources('AWS::CloudWatch::Alarm')).length).toBeGreaterThanOrEqual(6);
  });

  test('the context value cdk-kms-constructs:trailHomeRegion names the trail\'s Region', () => {
    const app = new App({ context: { 'cdk-kms-constructs:trailHomeRegion': 'us-west-2' } });
    const east = keysIn(app, 'East');
    const west = keysIn(app, 'West', 'us-west-2');
    expect(trailsOf([east, west])).toEqual([0, 1]);
  });

  test('fails at synth when the context value cdk-kms-constructs:trailHomeRegion is not a Region', () => {
    const app = new App({ context: { 'cdk-kms-constructs:trailHomeRegion': 'Virginia' } });
    keysIn(app, 'East');
    expect(() => app.synth()).toThrow('the context value cdk-kms-constructs:trailHomeRegion must be a Region name such as "us-east-1", got "Virginia"');
  });

  test('createTrail: true places the trail; existingLogGroup or createTrail: false everywhere makes none', () => {
    const pinned = new App();
    const [a, b] = [keysIn(pinned, 'A'), new Stack(pinned, 'B', { env: { account: ACCOUNT, region: 'eu-west-1' } })];
    new KeyAuditTrail(b, 'KeyAuditTrail', { createTrail: true });
    new ClassifiedKey(b, 'Key', { classification: DataClassification.INTERNAL });
    expect(trailsOf([a, b])).toEqual([0, 1]);
    expect((b.node.findChild('KeyAuditTrail') as KeyAuditTrail).trail).toBeDefined();

    const org = new App();
    const c = new Stack(org, 'C', { env: { account: ACCOUNT, region: REGION } });
    new KeyAuditTrail(c, 'KeyAuditTrail', { existingLogGroup: logs.LogGroup.fromLogGroupName(c, 'Org', 'org-trail') });
    new ClassifiedKey(c, 'Key', { classification: DataClassification.INTERNAL });
    const d = keysIn(org, 'D', 'eu-west-1');
    expect(trailsOf([c, d])).toEqual([0, 0]);

    const none = new App();
    const e = new Stack(none, 'E', { env: { account: ACCOUNT, region: REGION } });
    new KeyAuditTrail(e, 'KeyAuditTrail', { createTrail: false });
    new ClassifiedKey(e, 'Key', { classification: DataClassification.INTERNAL });
    expect(trailsOf([e])).toEqual([0]);
    Template.fromStack(e).resourceCountIs('AWS::Events::Rule', 1);
  });

  test('fails at synth when two KeyAuditTrails of an account create a trail', () => {
    const app = new App();
    for (const [name, region] of [['A', REGION], ['B', 'eu-west-1']]) {
      new KeyAuditTrail(new Stack(app, name, { env: { account: ACCOUNT, region } }), 'Trail', { createTrail: true, trailName: `kms-${name}` });
    }
    expect(() => app.synth()).toThrow('2 KeyAuditTrails create a trail in account 111111111111 (A/Trail, B/Trail): an account needs one multi-Region trail, which every Region\'s watch uses; give createTrail: true to one only');
  });

  test('fails at synth when two trails of one stack would get the same name', () => {
    const stack = newBareStack();
    new KeyAuditTrail(stack, 'One', { createTrail: true });
    new KeyAuditTrail(stack, 'Two', { createTrail: true });
    expect(() => Template.fromStack(stack)).toThrow(/a KeyAuditTrail named "TestStack-key-audit" is declared twice \(TestStack\/One and TestStack\/Two\)/);
  });

  test('a MultiRegion-sized app: six Regions of one account make one trail, and every Region is watched in its own', () => {
    const app = new App();
    const regions = ['us-east-1', 'us-east-2', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-southeast-2'];
    const stacks = regions.map(region => keysIn(app, `Keys-${region}`, region));
    expect(() => app.synth()).not.toThrow();
    expect(trailsOf(stacks)).toEqual([0, 0, 0, 0, 0, 1]); // ap-southeast-2 comes first by name
    for (const stack of stacks) Template.fromStack(stack).resourceCountIs('AWS::Events::Rule', 1);
  });

  test('fails at synth when an account and Region has more watches than CloudWatch Logs has resource policies', () => {
    const app = new App();
    const names = Array.from({ length: 11 }, (_, i) => `S${String(i).padStart(2, '0')}`);
    for (const name of names) keysIn(app, name);
    expect(() => app.synth()).toThrow(`11 KeyAuditTrails watch account 111111111111 in us-east-1 (${names.map(n => `${n}/KeyAuditTrail`).join(', ')}), and each needs one of the 10 CloudWatch Logs resource policies of the account and Region: pass one stack's auditTrail to the keys of the others`);
  });

  test('two environment-agnostic stacks: each watches its keys with its own trail and alarms, with a warning that names env', () => {
    const app = new App();
    const stacks = ['Alpha', 'Beta'].map(name => {
      const stack = new Stack(app, name);
      new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
      return stack;
    });
    expect(trailsOf(stacks)).toEqual([1, 1]);
    for (const stack of stacks) {
      const key = stack.node.findChild('Key') as ClassifiedKey;
      expect(Stack.of(key.auditTrail!)).toBe(stack);
      for (const alarm of key.alarms) expect(Stack.of(alarm)).toBe(stack);
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::Events::Rule', 1);
      expect(JSON.stringify(template.toJSON())).not.toContain('Fn::ImportValue');
    }
    const warnings = Annotations.fromStack(stacks[0]).findWarning('*', Match.stringLikeRegexp('without an account or Region'));
    expect(warnings.map(w => w.entry.data)).toEqual([expect.stringContaining('Set env on the stacks (one trail per account then)')]);
  });

  test('another account gets its own trail', () => {
    const app = new App();
    const mine = keysIn(app, 'Mine');
    const other = new Stack(app, 'Other', { env: { account: '222222222222', region: REGION } });
    new KeyAuditTrail(other, 'Trail');
    expect(trailsOf([mine, other])).toEqual([1, 1]);
  });

  test('two copies of the library in one app share the registry of trails: one trail for the account', () => {
    const app = new App();
    const first = keysIn(app, 'First');
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const copy = require('../src') as typeof import('../src');
      expect(copy.ClassifiedKey).not.toBe(ClassifiedKey);
      const second = new Stack(app, 'Second', { env: { account: ACCOUNT, region: REGION } });
      const key = new copy.ClassifiedKey(second, 'Key', { classification: copy.DataClassification.CONFIDENTIAL });
      expect(Stack.of(key.auditTrail!)).toBe(second);
      expect(KeyAuditTrail.isKeyAuditTrail(key.auditTrail)).toBe(true);
      expect(ClassifiedKey.isClassifiedKey(key)).toBe(true);
    });
    expect(trailsOf([first, app.node.findChild('Second') as Stack])).toEqual([1, 0]);
  });

  test('a trail of a copy that watches keys another way is refused by name', () => {
    const stack = newBareStack();
    const trail = new KeyAuditTrail(stack, 'Audit');
    // A copy of another version: no _watch, as the library's internal protocol was before.
    Object.defineProperty(trail, '_watch', { value: undefined });
    expect(() => new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, auditTrail: trail }))
      .toThrow('the audit trail TestStack/Audit comes from a copy of cdk-kms-constructs that watches keys another way, so it cannot watch TestStack/Key: '
        + 'use one version of the library in the app (npm ls cdk-kms-constructs)');
  });

  test.each([
    ['two dashes', 'kms--audit'],
    ['a period after a dash', 'kms-.audit'],
    ['a leading dash', '-kms-audit'],
    ['a trailing underscore', 'kms-audit_'],
    ['an IP address', '192.168.0.1'],
    ['two characters', 'ab'],
  ])('fails when trailName has %s', (_what, trailName) => {
    expect(() => new KeyAuditTrail(newBareStack(), 'Audit', { trailName })).toThrow(`got "${trailName}"`);
  });

  test('the default name follows CloudTrail\'s rules whatever the stack is called', () => {
    const stack = new Stack(new App(), 'payments--prod-', { env: { account: ACCOUNT, region: REGION } });
    new KeyAuditTrail(stack, 'Audit');
    Template.fromStack(stack).hasResourceProperties('AWS::CloudTrail::Trail', { TrailName: 'payments-prod-key-audit' });
  });
});
