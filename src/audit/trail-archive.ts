// The archive of a created trail: the multi-Region trail, its locked bucket and the
// bucket of the bucket's access logs, their lifecycle, the log group delivery and
// CloudTrail's statements in the audit key. Each function creates its constructs in
// the scope it is given, the KeyAuditTrail.
import { Annotations, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, IConstruct } from 'constructs';
import { ClassifiedKey } from '../key/classified-key';
import { acknowledgeAccessLogsBucket, acknowledgeAuditBucketReplication } from '../nag';
import { trailLogGroupName } from './trail-registry';

/** The settings of a created trail, validated by the KeyAuditTrail. */
export interface CreatedTrailOptions {
  readonly trailName: string;
  readonly retention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  readonly objectLock: s3.ObjectLockRetention;
  readonly accessLogsBucket?: s3.IBucket;
}

/** What `createTrail` creates. */
export interface CreatedTrail {
  readonly trail: cloudtrail.Trail;
  readonly logGroup: logs.LogGroup;
  readonly bucket: s3.Bucket;
  readonly accessLogsBucket: s3.IBucket;
}

/**
 * The trail of a stack that has none of its organization's: a multi-Region trail
 * encrypted with the audit key, its archive bucket and the bucket of the archive's
 * access logs, and the log group it delivers to.
 */
export function createTrail(scope: Construct, key: ClassifiedKey, options: CreatedTrailOptions): CreatedTrail {
  const stack = Stack.of(scope);
  const { trailName, retention, removalPolicy } = options;
  const logGroupName = trailLogGroupName(trailName);
  const trailArn = stack.formatArn({ service: 'cloudtrail', resource: 'trail', resourceName: trailName });
  allowCloudTrail(scope, key, trailArn);

  const logGroup = new logs.LogGroup(scope, 'LogGroup', {
    logGroupName,
    encryptionKey: key,
    retention,
    removalPolicy,
  });
  // The audit key learns, as any ClassifiedKey, to let CloudWatch Logs use it for
  // this log group, which it names.

  // The archive keeps each log file, locked, for the lock's retention; the files
  // stay readable at once (Glacier Instant Retrieval) after their first 90 days.
  const lockDays = options.objectLock.duration.toDays();
  const bucket = new s3.Bucket(scope, 'Bucket', {
    encryption: s3.BucketEncryption.KMS,
    encryptionKey: key,
    // No S3 Bucket Key: with one, CloudTrail needs more of the audit key to
    // create the trail than its two statements give it.
    enforceSSL: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    versioned: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    objectLockDefaultRetention: options.objectLock,
    lifecycleRules: archiveLifecycle(lockDays),
    removalPolicy,
  });
  acknowledgeAuditBucketReplication(bucket.node.defaultChild as IConstruct);
  const accessLogsBucket = options.accessLogsBucket ?? createAccessLogsBucket(scope, bucket, retention, removalPolicy);
  if (options.accessLogsBucket) allowAccessLogDelivery(scope, options.accessLogsBucket, `${trailName}/`);
  const cfnBucket = bucket.node.defaultChild as s3.CfnBucket;
  // Set on the L1, so that no app-level feature flag turns it into an ACL grant.
  cfnBucket.loggingConfiguration = {
    destinationBucketName: accessLogsBucket.bucketName,
    logFilePrefix: `${trailName}/`,
  };
  enableEventBridge(cfnBucket);

  const trail = new cloudtrail.Trail(scope, 'Trail', {
    trailName,
    bucket,
    encryptionKey: key,
    isMultiRegionTrail: true,
    includeGlobalServiceEvents: true,
    enableFileValidation: true,
    managementEvents: cloudtrail.ReadWriteType.ALL,
  });
  // CloudTrail checks the bucket policy and the key when the trail is created.
  trail.node.addDependency(bucket, key);
  deliverToLogGroup(scope, trail, logGroup, trailArn);
  return { trail, logGroup, bucket, accessLogsBucket };
}

/**
 * The bucket of the archive's server access logs. S3 delivers access logs only to a
 * bucket encrypted with SSE-S3, and a bucket should not log to itself: the two
 * Control Tower exceptions of this library. Object Lock is on (CT.S3.PR.9) with no
 * default retention, which S3 refuses on a server access log destination.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html
 */
function createAccessLogsBucket(scope: Construct, source: s3.Bucket, retention: number, removalPolicy: RemovalPolicy): s3.Bucket {
  const accessLogsBucket = new s3.Bucket(scope, 'AccessLogsBucket', {
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    versioned: true,
    // ACLs disabled: S3 delivers the logs by the bucket policy below.
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    objectLockEnabled: true,
    lifecycleRules: archiveLifecycle(retention),
    removalPolicy,
  });
  acknowledgeAccessLogsBucket(accessLogsBucket.node.defaultChild as IConstruct);
  acknowledgeAuditBucketReplication(accessLogsBucket.node.defaultChild as IConstruct);
  enableEventBridge(accessLogsBucket.node.defaultChild as s3.CfnBucket);
  // S3's logging service writes the trail bucket's logs, and only that bucket's.
  accessLogsBucket.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'S3ServerAccessLogsDelivery',
    principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
    actions: ['s3:PutObject'],
    resources: [accessLogsBucket.arnForObjects('*')],
    conditions: {
      ArnLike: { 'aws:SourceArn': source.bucketArn },
      StringEquals: { 'aws:SourceAccount': Stack.of(scope).account },
    },
  }));
  return accessLogsBucket;
}

/**
 * Lets S3's logging service write this trail's access logs to the organization's
 * bucket. The condition names no resource of this stack, so that a bucket of
 * another stack does not come to depend on this one.
 */
function allowAccessLogDelivery(scope: Construct, target: s3.IBucket, prefix: string): void {
  const stack = Stack.of(scope);
  const statement = new iam.PolicyStatement({
    principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
    actions: ['s3:PutObject'],
    resources: [target.arnForObjects(`${prefix}*`)],
    conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
  });
  if (!target.addToResourcePolicy(statement).statementAdded) {
    Annotations.of(scope).addWarningV2('cdk-kms-constructs:accessLogsBucketPolicy',
      `accessLogsBucket ${target.node.path} is imported, so its policy is not changed here: it must allow logging.s3.amazonaws.com s3:PutObject on ${prefix}* for aws:SourceAccount ${stack.account}`);
  }
}

/**
 * Points the trail at the log group through a role of our own, with a managed
 * policy scoped to the log group, and trusted by this trail only.
 */
function deliverToLogGroup(scope: Construct, trail: cloudtrail.Trail, logGroup: logs.LogGroup, trailArn: string): void {
  const role = new iam.Role(scope, 'LogsRole', {
    assumedBy: new iam.ServicePrincipal('cloudtrail.amazonaws.com').withConditions({
      StringEquals: { 'aws:SourceArn': trailArn },
    }),
    description: 'Lets CloudTrail deliver the KMS audit trail to its log group',
  });
  const policy = new iam.ManagedPolicy(scope, 'LogsPolicy', {
    description: 'Writes CloudTrail events to the KMS audit log group',
    roles: [role],
    statements: [new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    })],
  });
  const cfnTrail = trail.node.defaultChild as cloudtrail.CfnTrail;
  cfnTrail.cloudWatchLogsLogGroupArn = logGroup.logGroupArn;
  cfnTrail.cloudWatchLogsRoleArn = role.roleArn;
  // CloudTrail checks that it can write to the log group when the trail is created.
  cfnTrail.node.addDependency(policy);
}

/**
 * CloudTrail encrypts this trail's files, and only this trail's: the statements of
 * AWS's key policy for CloudTrail, with `kms:GenerateDataKey*` and the trail's
 * `aws:SourceArn` and encryption context.
 * @see https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html
 */
function allowCloudTrail(scope: Construct, key: ClassifiedKey, trailArn: string): void {
  const stack = Stack.of(scope);
  const cloudTrail = new iam.ServicePrincipal('cloudtrail.amazonaws.com');
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'CloudTrailEncryptsLogs',
    principals: [cloudTrail],
    actions: ['kms:GenerateDataKey*'],
    resources: ['*'],
    conditions: {
      StringEquals: { 'aws:SourceArn': trailArn },
      StringLike: { 'kms:EncryptionContext:aws:cloudtrail:arn': `arn:${stack.partition}:cloudtrail:*:${stack.account}:trail/*` },
    },
  }));
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'CloudTrailDescribesKey',
    principals: [cloudTrail],
    actions: ['kms:DescribeKey'],
    resources: ['*'],
    conditions: { StringEquals: { 'aws:SourceArn': trailArn } },
  }));
}

/** Noncurrent versions (a deleted log file, a lifecycle expiry) are kept this long. */
const NONCURRENT_VERSION_DAYS = 30;
/** Log files move to colder storage, still readable at once, after this long. */
const ARCHIVE_AFTER_DAYS = 90;

/**
 * An audit archive's lifecycle: files move to Glacier Instant Retrieval after 90
 * days, expire after `keepDays` (never, for logs kept forever), and what was
 * deleted or expired is removed 30 days later, never while a lock holds it.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html#object-lock-managing-lifecycle
 */
function archiveLifecycle(keepDays: number): s3.LifecycleRule[] {
  return [
    {
      id: 'ArchiveAuditLogs',
      transitions: [{ storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(ARCHIVE_AFTER_DAYS) }],
      expiration: keepDays === logs.RetentionDays.INFINITE ? undefined : Duration.days(keepDays),
      noncurrentVersionExpiration: Duration.days(NONCURRENT_VERSION_DAYS),
      abortIncompleteMultipartUploadAfter: Duration.days(7),
    },
    { id: 'RemoveExpiredDeleteMarkers', expiredObjectDeleteMarker: true },
  ];
}

/**
 * Sends the bucket's events to EventBridge, so that a SIEM can subscribe to them.
 * Set on the L1: aws-cdk-lib's `eventBridgeEnabled` adds a Lambda-backed custom
 * resource for what CloudFormation does natively.
 */
function enableEventBridge(bucket: s3.CfnBucket): void {
  bucket.notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
}

/** S3 delivers server access logs only to a bucket of the source bucket's account and Region. */
export function validateSameEnvironment(stack: Stack, bucket: s3.IBucket): void {
  for (const [what, mine, theirs] of [['account', stack.account, bucket.env.account], ['Region', stack.region, bucket.env.region]]) {
    if (!Token.isUnresolved(mine) && !Token.isUnresolved(theirs) && mine !== theirs) {
      throw new Error(`accessLogsBucket must be in the trail's ${what} ${mine}, where S3 delivers its access logs, got ${bucket.node.path} in ${theirs}`);
    }
  }
}

/**
 * `<stack name>-key-audit`, made to follow CloudTrail's naming rules whatever the
 * stack is called.
 */
export function defaultTrailName(stackName: string): string {
  if (Token.isUnresolved(stackName)) return `${stackName}-key-audit`;
  const cleaned = `${stackName}-key-audit`
    .replace(/[^a-zA-Z0-9._-]/g, '-')
    .replace(/[._-]{2,}/g, '-')
    .replace(/^[._-]+/, '')
    .slice(0, 128)
    .replace(/[._-]+$/, '');
  return cleaned.length >= 3 ? cleaned : `kms-${cleaned}-audit`;
}
