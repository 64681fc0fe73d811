/*
 * Deploys a stack whose ClassifiedKeys are watched by a KeyAuditTrail, and asserts
 * against the real APIs that the trail is logging to its encrypted log group, that
 * the CIS 3.7 / 4.7 metric filter is in place with its exact pattern, and that the
 * alarms are armed.
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

const trail = new KeyAuditTrail(stack, 'KeyAuditTrail', { trailName: 'cdk-kms-constructs-integ' });
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

integ.assertions
  .awsApiCall('CloudTrail', 'getTrailStatus', { Name: trail.trail!.trailArn })
  .expect(ExpectedResult.objectLike({ IsLogging: true }));

integ.assertions
  .awsApiCall('CloudWatchLogs', 'describeMetricFilters', { logGroupName: trail.logGroup.logGroupName })
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
