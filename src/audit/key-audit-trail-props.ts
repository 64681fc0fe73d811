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
   * The CloudWatch Logs log group of a trail your account already has, in this
   * stack's account and Region (an account trail, or the organization trail in its
   * home account and Region). No KeyAuditTrail of the account then creates a trail;
   * the CIS 3.7 / 4.7 filter and alarm attach to this log group. The watch still
   * counts every key's events through EventBridge, which receives them as long as a
   * trail with logging on records the account's management events; its heartbeat
   * alarm says so within two hours if none does.
   *
   * @default - the account's trail is created by one KeyAuditTrail of the app (see `createTrail`)
   */
  readonly existingLogGroup?: logs.ILogGroup;

  /**
   * Whether this KeyAuditTrail creates its account's multi-Region CloudTrail trail,
   * which the watches of every Region rely on. An account needs one: AWS records
   * each management event once per trail, and bills every copy after the first.
   * `false` when your account or organization has a trail that records the
   * account's management events (an organization trail does) but you have no log
   * group of it in this account and Region.
   *
   * @default - one KeyAuditTrail per account creates it, chosen once the app is
   * complete and never by the order of the code: none when a KeyAuditTrail of the
   * account has `createTrail: true` or `existingLogGroup`; otherwise, among the
   * account's KeyAuditTrails (one in each stack with keys), the one in the account's
   * trail home Region (the context value `cdk-kms-constructs:trailHomeRegion`, or
   * else the first of their Regions in alphabetical order), in the stack whose name
   * comes first. A stack without a resolved account or Region creates its own. Pin
   * it with `createTrail: true`: removing the last key of its stack moves it.
   */
  readonly createTrail?: boolean;

  /**
   * How long the log groups keep the audit logs (the watch's, and the created
   * trail's): at least one year.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly retention?: logs.RetentionDays;

  /**
   * The topic every alarm notifies. Given with `existingLogGroup`, nothing of the
   * library's needs a key, so no audit key is made: the watch's log group then has
   * CloudWatch Logs' own encryption (Control Tower's CT.CLOUDWATCH.PR.3 reports it).
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
   * The name of the trail, if this KeyAuditTrail creates it.
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
