// The properties of a KeyAuditTrail: what it creates, or attaches to, and how it
// notifies and keeps the audit logs.
import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';

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
