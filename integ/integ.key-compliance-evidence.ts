/*
 * Deploys a CONFIDENTIAL ClassifiedKey with its stack's KeyComplianceEvidence: the saved
 * Logs Insights queries on the trail the stack creates, the AWS Config rules, and the
 * key's KMS events forwarded to an event bus of the stack (standing in for a SIEM's).
 * Asserts against the real APIs that the queries and the rules exist. The account
 * must have AWS Config recording (the rules fail to create without a recorder).
 *
 * Verify the snapshot offline:   npx projen integ
 * Deploy it (needs an account):  npx integ-runner --directory integ --language typescript --force integ.key-compliance-evidence.ts
 */
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import { ClassifiedKey, DataClassification, KeyAuditTrail, KeyComplianceEvidence, KeyEventsDestination } from '../src';

const app = new App();
const stack = new Stack(app, 'KeyEvidenceInteg');

// Integ stacks are torn down after the run: the trail's resources and the key opt in to deletion.
new KeyAuditTrail(stack, KeyAuditTrail.DEFAULT_ID, { removalPolicy: RemovalPolicy.DESTROY });
new ClassifiedKey(stack, 'Key', {
  classification: DataClassification.CONFIDENTIAL,
  alias: 'alias/integ/key-evidence',
  removalPolicy: RemovalPolicy.DESTROY,
  pendingWindow: Duration.days(7),
});
const siem = new events.EventBus(stack, 'Siem');
const evidence = new KeyComplianceEvidence(stack, 'Evidence', {
  queryFolder: 'integ/kms-key-evidence',
  forwardEventsTo: KeyEventsDestination.eventBus(siem),
});

const integ = new IntegTest(app, 'KeyEvidenceTest', { testCases: [stack] });
integ.assertions
  .awsApiCall('CloudWatchLogs', 'describeQueryDefinitions', { queryDefinitionNamePrefix: 'integ/kms-key-evidence/' })
  .expect(ExpectedResult.objectLike({
    queryDefinitions: Match.arrayWith([
      Match.objectLike({ name: 'integ/kms-key-evidence/key-usage' }),
      Match.objectLike({ name: 'integ/kms-key-evidence/key-usage/integ/key-evidence' }),
    ]),
  }));
integ.assertions
  .awsApiCall('ConfigService', 'describeConfigRules', { ConfigRuleNames: evidence.configRules.map(rule => rule.configRuleName) })
  .expect(ExpectedResult.objectLike({
    ConfigRules: Match.arrayWith([Match.objectLike({ Source: { Owner: 'AWS', SourceIdentifier: 'KMS_KEY_POLICY_NO_PUBLIC_ACCESS' } })]),
  }));
