import { Annotations, Duration, RemovalPolicy, Stack, Stage, Token, TokenComparison } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct, IConstruct } from 'constructs';
import {
  AuditEvent,
  CIS_KEY_DISABLED_OR_DELETED_PATTERN,
  KEY_ARN_DIMENSION,
  KEY_ARN_SELECTOR,
  KEY_EVENTS,
  keyArnsOf,
} from './audit-events';
import { createKeyMaterialExpiryAlarm, createSharedKeyAlarms } from './key-alarms';
import { DataClassification, rulesFor } from '../key/classification';
import { ClassifiedKey } from '../key/classified-key';
import { keyAdminRole } from '../key/key-roles';
import { acknowledgeAccessLogsBucket, acknowledgeAuditBucketReplication } from '../nag';

/** Log retention below this is an error: audit logs are kept at least a year. */
const MIN_RETENTION_DAYS = 365;
/**
 * CloudTrail's naming rules: 3-128 letters, digits, periods, underscores and dashes,
 * starting and ending with a letter or digit, no two of `.`, `_`, `-` in a row, and
 * not shaped like an IP address.
 * @see https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html
 */
const TRAIL_NAME_PATTERN = /^[a-zA-Z0-9](?:[a-zA-Z0-9]|[._-](?![._-])){1,126}[a-zA-Z0-9]$/;
const IP_ADDRESS_PATTERN = /^\d{1,3}(\.\d{1,3}){3}$/;
/** AWS allows five trails per account and Region. */
const MAX_TRAILS_PER_REGION = 5;
const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/**
 * The trails by account and Region of each stage (the app, or a Stage), kept on the
 * stage under a global symbol, so that two copies of this library in one app share
 * them.
 */
const TRAILS = Symbol.for('cdk-kms-constructs.KeyAuditTrails');
const IS_KEY_AUDIT_TRAIL = Symbol.for('cdk-kms-constructs.KeyAuditTrail');

interface TrailRegistry {
  /** The trail keys of an account and Region attach to: the first declared or created. */
  readonly byEnvironment: Map<string, KeyAuditTrail>;
  /** Every trail of the app, in the order declared. */
  readonly all: KeyAuditTrail[];
}

/** The trails of the scope's stage: stages deploy apart, and no reference crosses them. */
function registryOf(scope: IConstruct): TrailRegistry {
  const holder = (Stage.of(scope) ?? scope.node.root) as unknown as Record<symbol, TrailRegistry | undefined>;
  let registry = holder[TRAILS];
  if (!registry) {
    registry = { byEnvironment: new Map(), all: [] };
    Object.defineProperty(holder, TRAILS, { value: registry, enumerable: false });
  }
  return registry;
}

/** The account and Region of a stack, as the key of its trail. */
function environmentOf(stack: Stack): string {
  return `${stack.account}/${stack.region}`;
}

/**
 * Properties of a KeyAuditTrail.
 */
export interface KeyAuditTrailProps {
  /**
   * The CloudWatch Logs log group of a trail you already have (an organization
   * trail, say). No trail, bucket or log group is created; the metric filters and
   * alarms attach to this log group. It must receive the account's KMS management
   * events. Given with `alarmTopic`, nothing of the library's is encrypted, and no
   * audit key is created either.
   *
   * @default - a new multi-Region trail delivering to a new encrypted log group
   */
  readonly existingLogGroup?: logs.ILogGroup;

  /**
   * How long the created log group keeps the audit logs: at least one year.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly retention?: logs.RetentionDays;

  /**
   * The topic every alarm notifies.
   *
   * @default - a new SNS topic encrypted with the audit key, TLS only
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Email addresses subscribed to the created alarm topic.
   *
   * @default - no subscription
   */
  readonly alarmEmails?: string[];

  /**
   * Principals that may read the audit logs in CloudWatch Logs, besides
   * `logReaderRole`.
   *
   * The trail's files in S3 are encrypted with the audit key, which nobody but its
   * user role (`logReaderRole`) may decrypt. The copy in CloudWatch Logs is decrypted
   * by CloudWatch Logs for any caller whose IAM policies allow reading the log
   * group: keep `logs:GetLogEvents`, `logs:FilterLogEvents` and `logs:StartQuery` on
   * it out of other policies (an SCP does it for the organization).
   *
   * @default - only `logReaderRole`
   */
  readonly logReaders?: iam.IGrantable[];

  /**
   * The name of the created trail.
   *
   * @default - `<stack name>-key-audit`
   */
  readonly trailName?: string;

  /**
   * The S3 Object Lock default retention of the trail bucket: for this long after
   * CloudTrail writes a log file, nobody can overwrite or delete it (in governance
   * mode, only principals allowed `s3:BypassGovernanceRetention` can). At least the
   * log retention, so that no audit log leaves the archive early (PCI DSS 10.5).
   * The bucket's lifecycle expires log files when their lock ends.
   *
   * @default - governance mode for the log retention (`retention`)
   * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html
   */
  readonly objectLockRetention?: s3.ObjectLockRetention;

  /**
   * The bucket that receives the trail bucket's S3 server access logs: your
   * organization's log bucket, in the trail's account and Region (S3 delivers access
   * logs only there). When it is a bucket of this app, it is given the statement
   * that lets S3's logging service write under the prefix `<trail name>/`; an
   * imported bucket's policy must already allow it.
   *
   * @default - a new versioned access-log bucket, encrypted with SSE-S3
   * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
   */
  readonly accessLogsBucket?: s3.IBucket;

  /**
   * The role CloudFormation deploys the stack with, which the audit key's policy
   * names as the role that may update it (see `ClassifiedKeyProps.deployRole`).
   *
   * @default - the CloudFormation execution role of the stack's synthesizer
   */
  readonly deployRole?: iam.IRole;

  /**
   * What happens to the audit key, log group and buckets when they leave the stack.
   * Buckets that hold objects cannot be deleted by CloudFormation.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The audit spine of an account and Region: a CloudTrail trail delivering to an
 * encrypted CloudWatch Logs log group, metric filters for the KMS events that matter,
 * and the alarms every ClassifiedKey gets. One per account and Region for the app,
 * created in the stack of the first key that needs it (`KeyAuditTrail.of(scope)`), or
 * declared by you first.
 */
export class KeyAuditTrail extends Construct {
  /** The construct id of the trail that `of` creates. */
  public static readonly DEFAULT_ID = 'KeyAuditTrail';

  /**
   * The audit trail of the scope's account and Region: the first KeyAuditTrail
   * declared in any stack of the app (of the stage, in a `Stage`) for them, or a new
   * one with default properties in the scope's stack. Keys of every stack of an account and Region attach to one
   * trail, so that an app never creates more trails than AWS allows.
   */
  public static of(scope: IConstruct): KeyAuditTrail {
    const stack = Stack.of(scope);
    const existing = registryOf(scope).byEnvironment.get(environmentOf(stack));
    if (existing) return existing;
    const created = new KeyAuditTrail(stack, KeyAuditTrail.DEFAULT_ID);
    created.createdImplicitly = true;
    return created;
  }

  /** Whether a value is a KeyAuditTrail, of this copy of the library or another. */
  public static isKeyAuditTrail(x: unknown): x is KeyAuditTrail {
    return typeof x === 'object' && x !== null && IS_KEY_AUDIT_TRAIL in x;
  }

  /** The trail, when this construct created one. */
  public readonly trail?: cloudtrail.Trail;
  /** The log group that holds the KMS events. */
  public readonly logGroup: logs.ILogGroup;
  /** The topic the alarms notify. */
  public readonly alarmTopic: sns.ITopic;
  /** The key that encrypts the trail, its log group and the alarm topic, when created. */
  public readonly auditKey?: ClassifiedKey;
  /**
   * The role that may read the audit logs of a created trail: the audit key's user
   * role.
   * It reads the log group, and may decrypt the files CloudTrail wrote to the bucket
   * (through S3, with the trail's encryption context) once you give it
   * `s3:GetObject` on the bucket.
   */
  public readonly logReaderRole?: iam.IRole;
  /** The bucket the trail delivers to, when created. */
  public readonly bucket?: s3.IBucket;
  /** The bucket that receives the trail bucket's access logs, when created. */
  public readonly accessLogsBucket?: s3.IBucket;
  /** The stack-level alarm of CIS 3.7 / 4.7: any key disabled or scheduled for deletion. */
  public readonly keyDisabledOrDeletedAlarm: cloudwatch.Alarm;
  /** The CloudWatch namespace of this trail's metrics. */
  public readonly metricNamespace: string;
  /**
   * Any key of the account and Region disabled, scheduled for deletion, with
   * rotation turned off or its imported material deleted: a Metrics Insights alarm
   * in which each key is a contributor, named by its ARN.
   */
  public readonly keyStateChangesAlarm: cloudwatch.Alarm;
  /**
   * Any key of the account and Region whose policy changed, or with a grant revoked
   * or created outside an AWS service: each key is a contributor, named by its ARN.
   */
  public readonly keyPolicyOrGrantChangesAlarm: cloudwatch.Alarm;
  /**
   * Any key of the account and Region whose alias was created, moved or deleted, or
   * whose tags changed (aliases direct encryption to a key, tags drive access
   * control): each key is a contributor, named by its ARN.
   */
  public readonly keyAliasOrTagChangesAlarm: cloudwatch.Alarm;

  private createdImplicitly = false;
  /** The name of the trail this construct creates. */
  private readonly trailName?: string;
  private readonly pendingAlarms: cloudwatch.Alarm[] = [];
  private keyMaterialExpiryAlarm?: cloudwatch.Alarm;
  private topicReady = false;

  constructor(scope: Construct, id: string, props: KeyAuditTrailProps = {}) {
    super(scope, id);
    Object.defineProperty(this, IS_KEY_AUDIT_TRAIL, { value: true });
    const stack = Stack.of(this);
    const registry = registryOf(this);
    const environment = environmentOf(stack);
    if (!registry.byEnvironment.has(environment)) registry.byEnvironment.set(environment, this);
    registry.all.push(this);

    const retention = props.retention ?? logs.RetentionDays.ONE_YEAR;
    if (retention < MIN_RETENTION_DAYS) {
      throw new Error(`retention must be at least ${MIN_RETENTION_DAYS} days for audit logs, got ${retention}`);
    }
    if (props.existingLogGroup && props.retention !== undefined) {
      throw new Error(`retention applies only to a created log group; got ${props.retention} with existingLogGroup`);
    }
    const trailName = props.trailName ?? defaultTrailName(stack.stackName);
    if (!Token.isUnresolved(trailName) && (!TRAIL_NAME_PATTERN.test(trailName) || IP_ADDRESS_PATTERN.test(trailName))) {
      throw new Error(
        `trailName must be 3-128 letters, digits, ".", "_" or "-", start and end with a letter or digit, have no two of ".", "_", "-" in a row and not look like an IP address, got "${trailName}"`,
      );
    }
    this.trailName = props.existingLogGroup ? undefined : trailName;
    if (props.existingLogGroup && props.trailName !== undefined) {
      throw new Error(`trailName applies only to a created trail; got "${props.trailName}" with existingLogGroup`);
    }
    if (props.existingLogGroup && props.objectLockRetention !== undefined) {
      throw new Error(`objectLockRetention applies only to a created trail's bucket; got ${props.objectLockRetention.duration.toDays()} days with existingLogGroup`);
    }
    if (props.existingLogGroup && props.accessLogsBucket !== undefined) {
      throw new Error(`accessLogsBucket applies only to a created trail's bucket; got ${props.accessLogsBucket.node.path} with existingLogGroup`);
    }
    const objectLock = props.objectLockRetention ?? s3.ObjectLockRetention.governance(Duration.days(retention));
    const lockDays = objectLock.duration.toDays();
    if (lockDays < retention) {
      throw new Error(`objectLockRetention must be at least the log retention of ${retention} days, so that no audit log leaves the archive early, got ${lockDays} days`);
    }
    if (props.accessLogsBucket) validateSameEnvironment(stack, props.accessLogsBucket);
    for (const email of props.alarmEmails ?? []) {
      if (!Token.isUnresolved(email) && !EMAIL_PATTERN.test(email)) {
        throw new Error(`alarmEmails entries must be email addresses, got "${email}"`);
      }
    }
    if (props.alarmTopic && props.alarmEmails) {
      throw new Error(`alarmEmails subscribe to the created topic; subscribe them to your alarmTopic instead, got ${props.alarmEmails.join(', ')} with alarmTopic ${props.alarmTopic.node.path}`);
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.metricNamespace = `KmsKeyAudit/${stack.stackName}`;

    // The shared alarms come first, so that the audit key is watched by them too.
    const shared = createSharedKeyAlarms(this, this.metricNamespace, this.where());
    this.keyStateChangesAlarm = shared.stateChanges;
    this.keyPolicyOrGrantChangesAlarm = shared.policyOrGrantChanges;
    this.keyAliasOrTagChangesAlarm = shared.aliasOrTagChanges;
    this._notify(shared.stateChanges);
    this._notify(shared.policyOrGrantChanges);
    this._notify(shared.aliasOrTagChanges);

    // The audit key exists when something of ours must be encrypted: the trail and
    // its log group, or the alarm topic.
    const needsKey = !props.existingLogGroup || !props.alarmTopic;
    if (needsKey) {
      this.auditKey = new ClassifiedKey(this, 'AuditKey', {
        classification: DataClassification.CONFIDENTIAL,
        description: `Encrypts the KMS audit trail, its logs and alarm topic of ${stack.stackName}`,
        // Readers decrypt the trail's files through S3, and only files CloudTrail
        // wrote (they carry the trail's encryption context); services use the key by
        // their own statements below.
        viaServices: ['s3'],
        encryptionContextKeys: ['aws:cloudtrail:arn'],
        removalPolicy,
        auditTrail: this,
        deployRole: props.deployRole,
        // Its own administrators: those of the stack's data keys do not manage the audit.
        adminRole: keyAdminRole(this, 'AuditKeyAdminRole', DataClassification.CONFIDENTIAL,
          rulesFor(DataClassification.CONFIDENTIAL), new iam.AccountRootPrincipal(),
          `Administers the KMS audit key of ${stack.stackName}; cannot use it`),
      });
    }

    if (props.existingLogGroup) {
      this.logGroup = props.existingLogGroup;
    } else {
      const created = this.createTrail(this.auditKey!, {
        trailName, retention, removalPolicy, objectLock, accessLogsBucket: props.accessLogsBucket,
      });
      this.logReaderRole = this.auditKey!.userRole;
      this.trail = created.trail;
      this.logGroup = created.logGroup;
      this.bucket = created.bucket;
      this.accessLogsBucket = created.accessLogsBucket;
    }

    // Alarms notify a topic encrypted with the audit key, that only TLS may reach.
    if (props.alarmTopic) {
      this.alarmTopic = props.alarmTopic;
    } else {
      const topic = new sns.Topic(this, 'AlarmTopic', {
        displayName: `KMS key alarms of ${stack.stackName}`,
        masterKey: this.auditKey,
        enforceSSL: true,
      });
      // The audit key learns, as any ClassifiedKey, that alarms publish to the topic.
      for (const email of props.alarmEmails ?? []) {
        topic.addSubscription(new subscriptions.EmailSubscription(email));
      }
      this.alarmTopic = topic;
    }

    const partition = (!Token.isUnresolved(stack.region) && RegionInfo.get(stack.region).partition) || stack.partition;
    const keyArns = keyArnsOf(partition, stack.region, stack.account);
    for (const event of KEY_EVENTS) {
      new logs.MetricFilter(this, event.id, {
        logGroup: this.logGroup,
        filterPattern: logs.FilterPattern.literal(event.patternFor(keyArns)),
        metricNamespace: this.metricNamespace,
        metricName: event.metricName,
        metricValue: '1',
        dimensions: { [KEY_ARN_DIMENSION]: event.keyArnSelector ?? KEY_ARN_SELECTOR },
        unit: cloudwatch.Unit.COUNT,
      });
    }
    const cisFilter = new logs.MetricFilter(this, 'KeyDisabledOrScheduledForDeletion', {
      logGroup: this.logGroup,
      filterPattern: logs.FilterPattern.literal(CIS_KEY_DISABLED_OR_DELETED_PATTERN),
      metricNamespace: this.metricNamespace,
      metricName: 'KeyDisabledOrScheduledForDeletion',
      metricValue: '1',
    });
    this.keyDisabledOrDeletedAlarm = new cloudwatch.Alarm(this, 'KeyDisabledOrScheduledForDeletionAlarm', {
      alarmDescription: `CIS 3.7 / 4.7: a KMS key of account ${stack.account} was disabled or scheduled for deletion`,
      metric: cisFilter.metric({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      actionsEnabled: true,
    });
    this.keyDisabledOrDeletedAlarm.addAlarmAction(new cloudwatchActions.SnsAction(this.alarmTopic));

    // Alarms made before the topic existed (the audit key's own) get it now.
    this.topicReady = true;
    for (const alarm of this.pendingAlarms.splice(0)) {
      alarm.addAlarmAction(new cloudwatchActions.SnsAction(this.alarmTopic));
    }

    if (this.logReaderRole) {
      new iam.ManagedPolicy(this, 'LogReaderPolicy', {
        description: `Reads the KMS audit logs of ${stack.stackName}`,
        roles: [this.logReaderRole],
        statements: [this.readLogsStatement()],
      });
    }
    for (const reader of props.logReaders ?? []) this.grantReadLogs(reader);

    this.node.addValidation({ validate: () => this.validateTrails() });
  }

  /**
   * Lets a principal read the audit logs in CloudWatch Logs, where CloudWatch Logs
   * decrypts them for the reader. The trail's files in S3 stay readable only by
   * principals you give both S3 access and `auditKey.grantDecrypt`.
   */
  public grantReadLogs(grantee: iam.IGrantable): iam.Grant {
    const statement = this.readLogsStatement();
    return iam.Grant.addToPrincipal({ grantee, actions: statement.actions, resourceArns: statement.resources });
  }

  /**
   * A metric of this trail for one key.
   *
   * @internal
   */
  public _keyMetric(event: AuditEvent, keyArn: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.metricNamespace,
      metricName: event.metricName,
      dimensionsMap: { [KEY_ARN_DIMENSION]: keyArn },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(5),
      ...props,
    });
  }

  /**
   * The trail's alarms that watch a key: the shared ones, and the imported-material
   * expiry alarm for a key with imported material, made on first use.
   *
   * @internal
   */
  public _sharedAlarmsFor(importedMaterial: boolean): cloudwatch.Alarm[] {
    const alarms = [this.keyStateChangesAlarm, this.keyPolicyOrGrantChangesAlarm, this.keyAliasOrTagChangesAlarm];
    if (importedMaterial) {
      if (!this.keyMaterialExpiryAlarm) {
        this.keyMaterialExpiryAlarm = createKeyMaterialExpiryAlarm(this, this.where());
        this._notify(this.keyMaterialExpiryAlarm);
      }
      alarms.push(this.keyMaterialExpiryAlarm);
    }
    return alarms;
  }

  /** How alarm descriptions name the keys a trail watches. */
  private where(): string {
    const stack = Stack.of(this);
    return `account ${stack.account} in ${stack.region}`;
  }

  /**
   * Gives an alarm its action: the key's own topic, or this trail's once it exists.
   *
   * @internal
   */
  public _notify(alarm: cloudwatch.Alarm, topic?: sns.ITopic): void {
    if (topic) {
      alarm.addAlarmAction(new cloudwatchActions.SnsAction(topic));
    } else if (this.topicReady) {
      alarm.addAlarmAction(new cloudwatchActions.SnsAction(this.alarmTopic));
    } else {
      this.pendingAlarms.push(alarm);
    }
  }

  /**
   * The trail of a stack that has none of its organization's: a multi-Region trail
   * encrypted with the audit key, its archive bucket and the bucket of the archive's
   * access logs, and the log group it delivers to.
   */
  private createTrail(key: ClassifiedKey, options: CreatedTrailOptions) {
    const stack = Stack.of(this);
    const { trailName, retention, removalPolicy } = options;
    const logGroupName = `/aws/cloudtrail/${trailName}`;
    const trailArn = stack.formatArn({ service: 'cloudtrail', resource: 'trail', resourceName: trailName });
    this.allowCloudTrail(key, trailArn);

    const logGroup = new logs.LogGroup(this, 'LogGroup', {
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
    const bucket = new s3.Bucket(this, 'Bucket', {
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
    const accessLogsBucket = options.accessLogsBucket ?? this.createAccessLogsBucket(bucket, retention, removalPolicy);
    if (options.accessLogsBucket) this.allowAccessLogDelivery(options.accessLogsBucket, `${trailName}/`);
    const cfnBucket = bucket.node.defaultChild as s3.CfnBucket;
    // Set on the L1, so that no app-level feature flag turns it into an ACL grant.
    cfnBucket.loggingConfiguration = {
      destinationBucketName: accessLogsBucket.bucketName,
      logFilePrefix: `${trailName}/`,
    };
    enableEventBridge(cfnBucket);

    const trail = new cloudtrail.Trail(this, 'Trail', {
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
    this.deliverToLogGroup(trail, logGroup, trailArn);
    return { trail, logGroup, bucket, accessLogsBucket };
  }

  /**
   * The bucket of the archive's server access logs. S3 delivers access logs only to a
   * bucket encrypted with SSE-S3 and without Object Lock, and a bucket should not log
   * to itself: the three Control Tower exceptions of this library.
   * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
   * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html
   */
  private createAccessLogsBucket(source: s3.Bucket, retention: number, removalPolicy: RemovalPolicy): s3.Bucket {
    const accessLogsBucket = new s3.Bucket(this, 'AccessLogsBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      versioned: true,
      // ACLs disabled: S3 delivers the logs by the bucket policy below.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
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
        StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
      },
    }));
    return accessLogsBucket;
  }

  /**
   * Lets S3's logging service write this trail's access logs to the organization's
   * bucket. The condition names no resource of this stack, so that a bucket of
   * another stack does not come to depend on this one.
   */
  private allowAccessLogDelivery(target: s3.IBucket, prefix: string): void {
    const stack = Stack.of(this);
    const statement = new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
      actions: ['s3:PutObject'],
      resources: [target.arnForObjects(`${prefix}*`)],
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
    });
    if (!target.addToResourcePolicy(statement).statementAdded) {
      Annotations.of(this).addWarningV2('cdk-kms-constructs:accessLogsBucketPolicy',
        `accessLogsBucket ${target.node.path} is imported, so its policy is not changed here: it must allow logging.s3.amazonaws.com s3:PutObject on ${prefix}* for aws:SourceAccount ${stack.account}`);
    }
  }

  private readLogsStatement(): iam.PolicyStatement {
    return new iam.PolicyStatement({
      // Logs Insights also needs logs:GetQueryResults, which AWS authorizes only on
      // all resources; it is left to the reader's own policies.
      actions: ['logs:DescribeLogStreams', 'logs:GetLogEvents', 'logs:FilterLogEvents', 'logs:StartQuery'],
      resources: [this.logGroup.logGroupArn],
    });
  }

  /**
   * Points the trail at the log group through a role of our own, with a managed
   * policy scoped to the log group, and trusted by this trail only.
   */
  private deliverToLogGroup(trail: cloudtrail.Trail, logGroup: logs.LogGroup, trailArn: string): void {
    const role = new iam.Role(this, 'LogsRole', {
      assumedBy: new iam.ServicePrincipal('cloudtrail.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceArn': trailArn },
      }),
      description: 'Lets CloudTrail deliver the KMS audit trail to its log group',
    });
    const policy = new iam.ManagedPolicy(this, 'LogsPolicy', {
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

  /** CloudTrail encrypts this trail's files, and only this trail's. */
  private allowCloudTrail(key: ClassifiedKey, trailArn: string): void {
    const stack = Stack.of(this);
    const cloudTrail = new iam.ServicePrincipal('cloudtrail.amazonaws.com');
    key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'CloudTrailEncryptsLogs',
      principals: [cloudTrail],
      actions: ['kms:GenerateDataKey'],
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

  /**
   * Trails that would collide or exceed AWS's quota: a trail declared after the one a
   * key created for the same account and Region, two trails of one name, more
   * trails in an account and Region than AWS allows.
   */
  private validateTrails(): string[] {
    const stack = Stack.of(this);
    const environment = environmentOf(stack);
    const registry = registryOf(this);
    const errors: string[] = [];
    const first = registry.byEnvironment.get(environment)!;
    if (first !== this && first.createdImplicitly) {
      errors.push(`a KeyAuditTrail was declared after a ClassifiedKey created the default one of account ${stack.account} and Region ${stack.region} (${first.node.path}): declare it before the keys, or pass it to them as auditTrail`);
    }
    const created = registry.all.filter(t => t.trailName !== undefined && environmentOf(Stack.of(t)) === environment);
    const sameName = created.find(t => t !== this && t.trailName === this.trailName && !Token.isUnresolved(this.trailName!));
    if (this.trailName !== undefined && sameName) {
      errors.push(`a KeyAuditTrail named "${this.trailName}" is declared twice (${sameName.node.path} and ${this.node.path}): CloudTrail names and log groups must be unique, give one another trailName or share one trail`);
    }
    // Every created trail is multi-Region, and a multi-Region trail counts against the
    // quota of every Region: count the account's trails, whatever their home Region.
    // https://docs.aws.amazon.com/awscloudtrail/latest/userguide/WhatIsCloudTrail-Limits.html
    const inAccount = registry.all.filter(t => t.trailName !== undefined
      && Token.compareStrings(Stack.of(t).account, stack.account) !== TokenComparison.DIFFERENT);
    if (inAccount.length > MAX_TRAILS_PER_REGION && inAccount[0] === this) {
      const regions = Array.from(new Set(inAccount.map(t => Stack.of(t).region)));
      errors.push(`${inAccount.length} KeyAuditTrails create multi-Region trails in account ${stack.account} (${inAccount.map(t => t.node.path).join(', ')}${regions.length > 1 ? `, in ${regions.join(', ')}` : ''}), and each counts in every Region against the ${MAX_TRAILS_PER_REGION} AWS allows: let the keys share one (KeyAuditTrail.of does by default, one per Region), pass auditTrail, or attach to your organization's trail with existingLogGroup`);
    }
    return errors;
  }
}

interface CreatedTrailOptions {
  readonly trailName: string;
  readonly retention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  readonly objectLock: s3.ObjectLockRetention;
  readonly accessLogsBucket?: s3.IBucket;
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
function validateSameEnvironment(stack: Stack, bucket: s3.IBucket): void {
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
function defaultTrailName(stackName: string): string {
  if (Token.isUnresolved(stackName)) return `${stackName}-key-audit`;
  const cleaned = `${stackName}-key-audit`
    .replace(/[^a-zA-Z0-9._-]/g, '-')
    .replace(/[._-]{2,}/g, '-')
    .replace(/^[._-]+/, '')
    .slice(0, 128)
    .replace(/[._-]+$/, '');
  return cleaned.length >= 3 ? cleaned : `kms-${cleaned}-audit`;
}
