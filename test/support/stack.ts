import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { KeyAuditTrail, KeyGuardrails } from '../../src';

/** The account and region every test stack is in. */
export const ACCOUNT = '111111111111';
export const REGION = 'us-east-1';
export const OTHER_ACCOUNT = '222222222222';

/**
 * A stack with a concrete environment, so that ARNs and conditions render plainly,
 * and an audit trail that attaches to an existing organization trail's log group and
 * alarm topic: keys get their alarms, and the stack holds no key but the test's own.
 */
export function newStack(id = 'TestStack'): Stack {
  const stack = newBareStack(id);
  new KeyAuditTrail(stack, 'KeyAuditTrail', {
    existingLogGroup: logs.LogGroup.fromLogGroupName(stack, 'OrgTrailLogs', 'org-trail'),
    alarmTopic: sns.Topic.fromTopicArn(stack, 'SecurityAlarms', `arn:aws:sns:${REGION}:${ACCOUNT}:security-alarms`),
  });
  return stack;
}

/** A stack with a concrete environment and nothing in it: the first key creates a full audit trail. */
export function newBareStack(id = 'TestStack'): Stack {
  const app = new App();
  return new Stack(app, id, { env: { account: ACCOUNT, region: REGION } });
}

/** The only resource of a type in a template, with its logical id. */
export function onlyResource(template: Template, type: string): { logicalId: string; properties: any } {
  const resources = template.findResources(type);
  const ids = Object.keys(resources);
  if (ids.length !== 1) {
    throw new Error(`expected one ${type}, found ${ids.length}: ${ids.join(', ')}`);
  }
  return { logicalId: ids[0], properties: resources[ids[0]].Properties };
}

/**
 * Whether a logical id is one of a KeyAuditTrail's resources of the stack: those of
 * the trail `KeyAuditTrail.of` creates and of the one `newStack` declares, both
 * named `KeyAuditTrail.DEFAULT_ID`. Every stack with keys has one (its heartbeat
 * role, at least), so tests about a key's own resources leave them out.
 */
export function isAuditTrailResource(logicalId: string): boolean {
  return logicalId.startsWith(KeyAuditTrail.DEFAULT_ID);
}

/** The IAM roles of a template, by logical id, but the KeyAuditTrail's: those of the keys and of the test. */
export function rolesOutsideAuditTrail(template: Template): Record<string, any> {
  return Object.fromEntries(Object.entries(template.findResources('AWS::IAM::Role')).filter(([id]) => !isAuditTrailResource(id)));
}

/** The logical ids of the KeyAuditTrail's IAM roles in a template, sorted. */
export function auditTrailRoleIds(template: Template): string[] {
  return Object.keys(template.findResources('AWS::IAM::Role')).filter(isAuditTrailResource).sort();
}

/** The key policy statement with this Sid. */
export function statementWithSid(template: Template, sid: string): any {
  const key = onlyResource(template, 'AWS::KMS::Key');
  const found = key.properties.KeyPolicy.Statement.find((s: any) => s.Sid === sid);
  if (!found) {
    throw new Error(`no statement ${sid} in ${JSON.stringify(key.properties.KeyPolicy.Statement.map((s: any) => s.Sid))}`);
  }
  return found;
}

export function asArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** The management account of the tests' organization, and a stack of it holding the usual KeyGuardrails. */
export const MANAGEMENT_ACCOUNT = '999999999999';
export function managementStackWithGuardrails(): Stack {
  const stack = new Stack(new App(), 'Management', { env: { account: MANAGEMENT_ACCOUNT, region: 'us-east-1' } });
  new KeyGuardrails(stack, 'Guardrails', {
    organizationId: 'o-a1b2c3d4e5',
    pipelineRoles: ['arn:aws:iam::*:role/cdk-hnb659fds-cfn-exec-role-*'],
    deployRoles: ['arn:aws:iam::*:role/cdk-hnb659fds-deploy-role-*'],
    targetIds: ['ou-ab12-cdef3456'],
    trustedNetworks: { vpcIds: ['vpc-0123456789abcdef0'] },
  });
  return stack;
}
