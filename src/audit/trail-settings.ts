// The settings of a KeyAuditTrail that cannot work, refused at synth by name and value.
import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { KeyAuditTrailProps } from './key-audit-trail-props';
import { validateSameEnvironment } from './trail-archive';

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
const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

export /** Props that cannot work, refused by name and value. */
function validateProps(props: KeyAuditTrailProps, stack: Stack, retention: number, trailName: string): void {
  if (retention < MIN_RETENTION_DAYS) {
    throw new Error(`retention must be at least ${MIN_RETENTION_DAYS} days for audit logs, got ${retention}`);
  }
  if (!Token.isUnresolved(trailName) && (!TRAIL_NAME_PATTERN.test(trailName) || IP_ADDRESS_PATTERN.test(trailName))) {
    throw new Error(
      `trailName must be 3-128 letters, digits, ".", "_" or "-", start and end with a letter or digit, have no two of ".", "_", "-" in a row and not look like an IP address, got "${trailName}"`,
    );
  }
  if (props.existingLogGroup) {
    const given = [
      props.createTrail !== undefined && `createTrail ${props.createTrail}`,
      props.trailName !== undefined && `trailName "${props.trailName}"`,
      props.objectLockRetention !== undefined && `objectLockRetention of ${props.objectLockRetention.duration.toDays()} days`,
      props.accessLogsBucket !== undefined && `accessLogsBucket ${props.accessLogsBucket.node.path}`,
    ].filter(Boolean);
    if (given.length > 0) {
      throw new Error(`existingLogGroup is the log group of a trail you have, so nothing of a created trail applies: got ${given.join(', ')} with existingLogGroup ${props.existingLogGroup.node.path}`);
    }
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
}

