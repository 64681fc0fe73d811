/*
 * Deploys KeyGuardrails' SCP and RCP, attached to nothing, in the management account
 * (or a delegated administrator of AWS Organizations) and asserts, against the real
 * Organizations API, that each exists with its type and its statements. Attaching them
 * is left to the README's rollout order: an integ test never changes who may do what.
 *
 * Verify the snapshot offline:   npx projen integ
 * Deploy it (management account, both policy types enabled, your organization's ID):
 *   ORGANIZATION_ID=o-xxxxxxxxxx npx integ-runner --directory integ --language typescript --force integ.key-guardrails.ts
 */
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Stack } from 'aws-cdk-lib';
import { KeyGuardrails } from '../src';

const app = new App();
const stack = new Stack(app, 'KeyGuardrailsInteg');
const guardrails = new KeyGuardrails(stack, 'Guardrails', {
  organizationId: process.env.ORGANIZATION_ID ?? 'o-a1b2c3d4e5',
  pipelineRoles: ['arn:aws:iam::*:role/cdk-hnb659fds-cfn-exec-role-*'],
  deployRoles: ['arn:aws:iam::*:role/cdk-hnb659fds-deploy-role-*'],
  breakGlassRoles: ['arn:aws:iam::*:role/KeyBreakGlass'],
  trustedNetworks: { sourceIpRanges: ['203.0.113.0/24'] },
  // Names of their own, so a run never collides with the organization's guardrails.
  policyNamePrefix: 'integ-kms-key-guardrails',
});

const integ = new IntegTest(app, 'KeyGuardrailsTest', { testCases: [stack] });

for (const [policy, type, sid] of [
  [guardrails.serviceControlPolicy!, 'SERVICE_CONTROL_POLICY', 'DenyClassifiedKeyChanges'],
  [guardrails.resourceControlPolicy!, 'RESOURCE_CONTROL_POLICY', 'DenyKeysOutsideOrganization'],
] as const) {
  integ.assertions
    .awsApiCall('Organizations', 'describePolicy', { PolicyId: policy.attrId })
    .expect(ExpectedResult.objectLike({
      Policy: {
        PolicySummary: { Name: policy.name, Type: type, AwsManaged: false },
        Content: Match.stringLikeRegexp(sid),
      },
    }));
}
