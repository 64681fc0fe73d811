/*
 * Deploys a stack whose ClassifiedKeys are watched by a KeyAuditTrail, and asserts
 * against the real APIs that delivery works, not just state: the trail delivers to
 * S3 and to its log group with no delivery error after KMS calls (the watch's
 * heartbeat makes one every 15 minutes), the heartbeat's real KMS events reach the
 * watch through EventBridge and make its filters emit, the CIS 3.7 / 4.7 metric
 * filter is in place with its exact pattern, and the alarms are armed.
 *
 * Verify the snapshot offline:   npx projen integ
 * Deploy it (needs an account):  npx integ-runner --directory integ --language typescript --force
 *
 * The audit log group and buckets are retained when the stack is destroyed, as they
 * are for users; delete them before deploying the test again.
 */
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ClassifiedKey, DataClassification, KeyAuditTrail } from '../src';

const app = new App();
const stack = new Stack(app, 'KeyAuditTrailInteg');

const trail = new KeyAuditTrail(stack, 'KeyAuditTrail', { trailName: 'cdk-kms-constructs-integ', createTrail: true });
const keys = [
  new ClassifiedKey(stack, 'Confidential', {
    classification: DataClassification.CONFIDENTIAL,
    removalPolicy: RemovalPolicy.DESTROY,
    pendingWindow: Duration.days(7),
  }),
  new ClassifiedKey(stack, 'Imported', {
    classification: DataClassification.INTERNAL,
    importKeyMaterial: true,
    keySpec: kms.KeySpec.SYMMETRIC_DEFAULT,
    removalPolicy: RemovalPolicy.DESTROY,
    pendingWindow: Duration.days(7),
  }),
];

const integ = new IntegTest(app, 'KeyAuditTrailTest', { testCases: [stack] });

// Delivery, not just state: IsLogging stays true when delivery fails, so the trail must
// have delivered to S3 and to CloudWatch Logs after the first KMS calls. (The matchers
// of integ-tests cannot assert that LatestDeliveryError is absent; the delivered files
// and log streams below are the evidence that it is.)
integ.assertions
  .awsApiCall('CloudTrail', 'getTrailStatus', { Name: trail.trail!.trailArn })
  .expect(ExpectedResult.objectLike({
    IsLogging: true,
    LatestDeliveryTime: Match.stringLikeRegexp('^\\d{4}-'),
    LatestCloudWatchLogsDeliveryTime: Match.stringLikeRegexp('^\\d{4}-'),
  }))
  .waitForAssertions({ totalTimeout: Duration.minutes(30), interval: Duration.minutes(1) });
integ.assertions
  .awsApiCall('S3', 'listObjectsV2', { Bucket: trail.bucket!.bucketName, Prefix: `AWSLogs/${stack.account}/CloudTrail/`, MaxKeys: 1 })
  .expect(ExpectedResult.objectLike({ Contents: Match.arrayWith([Match.objectLike({ Key: Match.stringLikeRegexp('\\.json\\.gz$') })]) }))
  .waitForAssertions({ totalTimeout: Duration.minutes(30), interval: Duration.minutes(1) });
integ.assertions
  .awsApiCall('CloudWatchLogs', 'describeLogStreams', { logGroupName: trail.trailLogGroup!.logGroupName, limit: 1 })
  .expect(ExpectedResult.objectLike({ logStreams: Match.arrayWith([Match.objectLike({ logStreamName: Match.stringLikeRegexp('_CloudTrail_') })]) }))
  .waitForAssertions({ totalTimeout: Duration.minutes(30), interval: Duration.minutes(1) });

// A filter emits for a real event: the heartbeat's DescribeKey goes through the trail,
// EventBridge, the rule and the log group, and every per-key filter counts it for the
// audit key (CloudWatch lists a metric once it has a datapoint).
for (const metricName of ['AuditHeartbeat', 'KeyStateChanges', 'KeyPolicyOrGrantChanges', 'KeyAliasOrTagChanges', 'KeyDeniedRequests']) {
  integ.assertions
    .awsApiCall('CloudWatch', 'listMetrics', {
      Namespace: trail.metricNamespace,
      MetricName: metricName,
      ...(metricName === 'AuditHeartbeat' ? {} : { Dimensions: [{ Name: 'KeyArn', Value: trail.auditKey!.keyArn }] }),
    })
    .expect(ExpectedResult.objectLike({ Metrics: Match.arrayWith([Match.objectLike({ MetricName: metricName })]) }))
    .waitForAssertions({ totalTimeout: Duration.minutes(45), interval: Duration.minutes(2) });
}

integ.assertions
  .awsApiCall('CloudWatchLogs', 'describeMetricFilters', { logGroupName: trail.trailLogGroup!.logGroupName })
  .expect(ExpectedResult.objectLike({
    metricFilters: Match.arrayWith([Match.objectLike({
      filterPattern: '{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}',
    })]),
  }));

for (const key of keys) {
  integ.assertions
    .awsApiCall('CloudWatch', 'describeAlarms', {
      AlarmNames: key.alarms.map(alarm => alarm.alarmName),
    })
    .expect(ExpectedResult.objectLike({
      MetricAlarms: Match.arrayWith([Match.objectLike({ ActionsEnabled: true, StateValue: 'OK' })]),
    }));
}

app.synth();
