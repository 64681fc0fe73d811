/*
 * What a KeyGrant's key policy allows, proven by evaluating the synthesized policy for
 * the requests KMS authorizes, with the context it sets for CreateGrant
 * (kms:GranteePrincipal, kms:GrantOperations, kms:GrantIsForAWSResource,
 * kms:GrantConstraintSourceArn): the handler creates this grant and nothing else, and the
 * CT.KMS.PR.3 deny still holds for every other principal.
 * https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grantee-principal
 * https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-operations
 */
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IConstruct } from 'constructs';
import { ClassifiedKey, DataClassification, KeyGrant, KeyGrantOperation, KeyGuardrails } from '../src';
import { ContextValues, PolicyDocument, PolicySimulator } from './support/policy-sim';
import { ACCOUNT, MANAGEMENT_ACCOUNT, newStack, REGION } from './support/stack';

const idOf = (construct: IConstruct) => Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
const KMS_STAR = [PolicySimulator.allowPolicy('kms:*')];
const LOGS = `logs.${REGION}.amazonaws.com`;
const LOG_GROUP = `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:app`;

const stack = newStack();
const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
const analyst = new iam.Role(stack, 'Analyst', { assumedBy: new iam.AccountRootPrincipal(), roleName: 'Analyst' });
new KeyGrant(stack, 'AuditGrant', {
  key, grantee: analyst, operations: [KeyGrantOperation.DECRYPT], encryptionContextSubset: { project: 'audit-2026' },
});
new KeyGrant(stack, 'LogsGrant', {
  key,
  grantee: new iam.ServicePrincipal(LOGS),
  operations: [KeyGrantOperation.GENERATE_DATA_KEY],
  sourceArn: LOG_GROUP,
  retiringPrincipal: new iam.ServicePrincipal(LOGS),
});
const sim = PolicySimulator.fromStack(stack);
const keyArn = sim.keyArn(idOf(key));
const handler = sim.roleArn(sim.logicalIdsOfType('AWS::IAM::Role').find(id => id.startsWith('KmsConstructsCustomResourcesKeyGrantHandlerRole'))!);
const analystArn = sim.roleArn(idOf(analyst));

const createGrant = (principal: string, context: ContextValues, extra: { identityPolicies?: PolicyDocument[] } = {}) => sim.simulate({
  principalArn: principal,
  action: 'kms:CreateGrant',
  resourceArn: keyArn,
  context: { 'kms:GrantIsForAWSResource': 'false', ...context },
  ...extra,
});
/** The context KMS sets for the analyst's grant as declared: Decrypt, under the audit's encryption context, no retiring principal. */
const forAnalyst = (operations: string[]): ContextValues => ({
  'kms:GranteePrincipal': analystArn,
  'kms:GrantOperations': operations,
  'kms:GrantConstraintType': 'EncryptionContextSubset',
  'kms:EncryptionContext:project': 'audit-2026',
  'kms:EncryptionContextKeys': ['project'],
});

describe('the KeyGrant handler', () => {
  test('creates the grant of Decrypt for the analyst', async () => {
    expect(await createGrant(handler, forAnalyst(['Decrypt']))).toBe('Allowed');
  });

  test('creates no grant for another grantee, nor one with another operation', async () => {
    expect(await createGrant(handler, { ...forAnalyst(['Decrypt']), 'kms:GranteePrincipal': `arn:aws:iam::${ACCOUNT}:role/Intruder` })).not.toBe('Allowed');
    expect(await createGrant(handler, forAnalyst(['Decrypt', 'Encrypt']))).not.toBe('Allowed');
    expect(await createGrant(handler, forAnalyst(['CreateGrant']))).not.toBe('Allowed');
    // A request without kms:GrantOperations does not pass as "all of none".
    const { 'kms:GrantOperations': _operations, ...noOperations } = forAnalyst(['Decrypt']);
    expect(await createGrant(handler, noOperations)).not.toBe('Allowed');
  });

  test('creates no grant with looser or other constraints, nor one a principal of its choosing may retire', async () => {
    const { 'kms:GrantConstraintType': _t, 'kms:EncryptionContext:project': _p, 'kms:EncryptionContextKeys': _k, ...unconstrained } = forAnalyst(['Decrypt']);
    expect(await createGrant(handler, unconstrained)).not.toBe('Allowed');
    expect(await createGrant(handler, { ...forAnalyst(['Decrypt']), 'kms:EncryptionContext:project': 'another-project' })).not.toBe('Allowed');
    expect(await createGrant(handler, { ...forAnalyst(['Decrypt']), 'kms:GrantConstraintType': 'EncryptionContextEquals' })).not.toBe('Allowed');
    expect(await createGrant(handler, { ...forAnalyst(['Decrypt']), 'kms:RetiringPrincipal': `arn:aws:iam::${ACCOUNT}:role/Attacker` })).not.toBe('Allowed');
  });

  test('creates the grant to CloudWatch Logs only with its source constraint', async () => {
    const toLogs = (source: string, retiring = LOGS) => ({
      'kms:GranteeServicePrincipal': LOGS, 'kms:RetiringServicePrincipal': retiring, 'kms:GrantOperations': ['GenerateDataKey'], 'kms:GrantConstraintSourceArn': source,
    });
    expect(await createGrant(handler, toLogs(LOG_GROUP))).toBe('Allowed');
    expect(await createGrant(handler, toLogs(`arn:aws:logs:${REGION}:${ACCOUNT}:log-group:other`))).not.toBe('Allowed');
    expect(await createGrant(handler, toLogs(LOG_GROUP, 'lambda.amazonaws.com'))).not.toBe('Allowed');
  });

  test('keeps its grants: lists and revokes them', async () => {
    for (const action of ['kms:ListGrants', 'kms:RevokeGrant']) {
      expect(await sim.simulate({ principalArn: handler, action, resourceArn: keyArn })).toBe('Allowed');
    }
  });

  test('neither uses nor manages the key, even with kms:* in IAM', async () => {
    for (const action of ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:PutKeyPolicy', 'kms:ScheduleKeyDeletion', 'kms:DisableKey']) {
      expect(await sim.simulate({ principalArn: handler, action, resourceArn: keyArn, identityPolicies: KMS_STAR })).not.toBe('Allowed');
    }
  });
});

describe('the CT.KMS.PR.3 deny still holds for everyone else', () => {
  test.each([
    ['an account administrator with kms:*', `arn:aws:iam::${ACCOUNT}:role/AccountAdmin`],
    ['the deploy role', `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${REGION}`],
    ['the analyst itself', 'analyst'],
    ['the account root user', ACCOUNT],
  ])('%s cannot create the analyst\'s grant: EXPLICITLY DENIED', async (_name, principal) => {
    const who = principal === 'analyst' ? analystArn : principal;
    expect(await createGrant(who, forAnalyst(['Decrypt']), { identityPolicies: KMS_STAR })).toBe('ExplicitlyDenied');
  });

  test('the key\'s admin role cannot either', async () => {
    expect(await createGrant(sim.roleArn(idOf(key.adminRole)), { ...forAnalyst(['Decrypt']), 'aws:MultiFactorAuthPresent': 'true' })).toBe('ExplicitlyDenied');
  });

  test('the deny still lets through a grant an AWS service creates for its resource', async () => {
    const viaS3 = { 'kms:GrantIsForAWSResource': 'true', 'aws:ViaAWSService': 'true', 'kms:ViaService': `s3.${REGION}.amazonaws.com`, ...forAnalyst(['Decrypt']) };
    expect(await createGrant(`arn:aws:iam::${ACCOUNT}:role/AccountAdmin`, viaS3, { identityPolicies: KMS_STAR })).not.toBe('ExplicitlyDenied');
  });
});

describe('a key with a network perimeter', () => {
  test('lets the handler create its grant from AWS\'s network, and nobody else from outside the endpoint', async () => {
    const fenced = newStack('Fenced');
    const endpoint = ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(fenced, 'Endpoint', { vpcEndpointId: 'vpce-0a1b2c3d4e5f67890', port: 443 });
    const fencedKey = new ClassifiedKey(fenced, 'Key', { classification: DataClassification.CONFIDENTIAL, vpcEndpoints: [endpoint] });
    const reader = new iam.Role(fenced, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    new KeyGrant(fenced, 'ReadGrant', { key: fencedKey, grantee: reader, operations: [KeyGrantOperation.DECRYPT], encryptionContextSubset: { a: 'b' } });
    const fencedSim = PolicySimulator.fromStack(fenced, { stackName: 'Fenced' });
    const fencedHandler = fencedSim.roleArn(fencedSim.logicalIdsOfType('AWS::IAM::Role').find(id => id.startsWith('KmsConstructsCustomResourcesKeyGrantHandlerRole'))!);
    const request = (principalArn: string, action: string, context: ContextValues) => fencedSim.simulate({
      principalArn, action, resourceArn: fencedSim.keyArn(idOf(fencedKey)), context,
    });
    const grantContext = {
      'kms:GrantIsForAWSResource': 'false',
      'kms:GranteePrincipal': fencedSim.roleArn(idOf(reader)),
      'kms:GrantOperations': ['Decrypt'],
      'kms:GrantConstraintType': 'EncryptionContextSubset',
      'kms:EncryptionContext:a': 'b',
      'kms:EncryptionContextKeys': ['a'],
    };
    expect(await request(fencedHandler, 'kms:CreateGrant', grantContext)).toBe('Allowed');
    expect(await request(fencedHandler, 'kms:RevokeGrant', {})).toBe('Allowed');
    expect(await request(fencedSim.roleArn(idOf(reader)), 'kms:Decrypt', {})).toBe('ExplicitlyDenied');
  });
});

describe('under the organization\'s KeyGuardrails', () => {
  const guardrails = (grantCreatorRoles?: string[]) => {
    const management = new Stack(new App(), 'Management', { env: { account: MANAGEMENT_ACCOUNT, region: 'us-east-1' } });
    const g = new KeyGuardrails(management, 'Guardrails', {
      organizationId: 'o-a1b2c3d4e5', pipelineRoles: ['arn:aws:iam::*:role/cdk-hnb659fds-cfn-exec-role-*'], grantCreatorRoles, enableResourceControlPolicy: false,
    });
    return {
      id: 'o-a1b2c3d4e5',
      managementAccount: MANAGEMENT_ACCOUNT,
      memberAccounts: [ACCOUNT],
      serviceControlPolicies: [JSON.parse(g.toJson().serviceControlPolicy!)],
    };
  };
  // CloudFormation names the handler's role after the stack and its logical ID.
  const deployedHandler = `arn:aws:iam::${ACCOUNT}:role/TestStack-KmsConstructsCustomResourcesKeyGr-1A2B3C4D5E6F`;
  const asDeployed = (organization: ReturnType<typeof guardrails>) => sim.simulate({
    principalArn: deployedHandler,
    action: 'kms:CreateGrant',
    resourceArn: keyArn,
    organization,
    context: { 'kms:GrantIsForAWSResource': 'false', ...forAnalyst(['Decrypt']), 'aws:PrincipalArn': deployedHandler },
    resourcePolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: deployedHandler }, Action: 'kms:CreateGrant', Resource: '*' }] },
  });

  test('the SCP denies the handler\'s grant for a person unless its role is among the grant creator roles, which nothing else exempts', async () => {
    expect(await asDeployed(guardrails())).toBe('ExplicitlyDenied');
    const withCreators = guardrails(['arn:aws:iam::*:role/TestStack-KmsConstructsCustomReso*']);
    expect(await asDeployed(withCreators)).toBe('Allowed');
    // The grant creator exemption reaches no other deny: the same role cannot delete a classified key.
    expect(await sim.simulate({
      principalArn: deployedHandler,
      action: 'kms:ScheduleKeyDeletion',
      resourceArn: keyArn,
      organization: withCreators,
      resourcePolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: deployedHandler }, Action: 'kms:*', Resource: '*' }] },
    })).toBe('ExplicitlyDenied');
  });
});
