/*
 * KeyGuardrails proven by evaluation: its SCP and RCP, run with a member account's key
 * policies and identity policies the way AWS runs them (the simulator applies SCPs to the
 * member accounts' principals and RCPs to their keys, not to the management account or to
 * service-linked roles). Each attack of the threat model is a request with the context AWS
 * sets: aws:PrincipalArn, aws:PrincipalOrgID, aws:ResourceTag/data-classification (read
 * from the key's tags in the template), aws:SourceVpc, aws:ViaAWSService.
 * https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html
 * https://docs.aws.amazon.com/kms/latest/developerguide/resource-control-policies.html
 */
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { IConstruct } from 'constructs';
import { ClassifiedKey, DataClassification, KeyAuditTrail, KeyGuardrails, KeyGuardrailsProps } from '../src';
import { ContextValues, PolicyDocument, PolicySimulator, SimulatedOrganization, SimulationOptions } from './support/policy-sim';
import { ACCOUNT, REGION } from './support/stack';

const ORG = 'o-a1b2c3d4e5';
const OTHER_ORG = 'o-z9y8x7w6v5';
const MANAGEMENT = '999999999999';
const OUTSIDE = '444455556666';
const PARTNER = '777788889999';
const VPC = 'vpc-0123456789abcdef0';
const OTHER_VPC = 'vpc-0fedcba98765432ff';
const KMS_ENDPOINT = 'vpce-0a1b2c3d4e5f67890';
const S3_ENDPOINT = 'vpce-05a5a5a5a5a5a5a5a';
const CORPORATE_IP = '203.0.113.17';

const role = (account: string, name: string) => `arn:aws:iam::${account}:role/${name}`;
const PIPELINE = role(ACCOUNT, `cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${REGION}`);
const DEPLOY = role(ACCOUNT, `cdk-hnb659fds-deploy-role-${ACCOUNT}-${REGION}`);
const BREAK_GLASS = role(ACCOUNT, 'BreakGlass');
const ACCOUNT_ADMIN = role(ACCOUNT, 'AccountAdmin');
const KMS_STAR = [PolicySimulator.allowPolicy('kms:*')];
const EVERYTHING = [PolicySimulator.allowPolicy('*')];
const WITH_MFA: ContextValues = { 'aws:MultiFactorAuthPresent': 'true' };
const FROM_VPC: ContextValues = { 'aws:SourceVpc': VPC, 'aws:SourceVpce': KMS_ENDPOINT };
const FROM_OTHER_VPC: ContextValues = { 'aws:SourceVpc': OTHER_VPC, 'aws:SourceVpce': 'vpce-0b0b0b0b0b0b0b0b0' };
const FROM_OFFICE: ContextValues = { 'aws:SourceIp': CORPORATE_IP };
const FROM_ELSEWHERE: ContextValues = { 'aws:SourceIp': '198.51.100.9' };

const GUARDRAILS: KeyGuardrailsProps = {
  organizationId: ORG,
  pipelineRoles: ['arn:aws:iam::*:role/cdk-hnb659fds-cfn-exec-role-*'],
  deployRoles: ['arn:aws:iam::*:role/cdk-hnb659fds-deploy-role-*'],
  breakGlassRoles: ['arn:aws:iam::*:role/BreakGlass'],
  targetIds: ['ou-ab12-cdef3456'],
  trustedNetworks: { vpcIds: [VPC], sourceIpRanges: ['203.0.113.0/24'] },
};

/** The SCP and RCP of KeyGuardrails, as the management account's template deploys them. */
function guardrails(props: Partial<KeyGuardrailsProps> = {}): { scp: PolicyDocument; rcp: PolicyDocument } {
  const stack = new Stack(new App(), 'Management', { env: { account: MANAGEMENT, region: 'us-east-1' } });
  const g = new KeyGuardrails(stack, 'Guardrails', { ...GUARDRAILS, ...props });
  return { scp: JSON.parse(g.toJson().serviceControlPolicy!), rcp: JSON.parse(g.toJson().resourceControlPolicy!) };
}

function organization(docs: { scp: PolicyDocument; rcp: PolicyDocument }): SimulatedOrganization {
  return {
    id: ORG, managementAccount: MANAGEMENT, memberAccounts: [ACCOUNT], serviceControlPolicies: [docs.scp], resourceControlPolicies: [docs.rcp],
  };
}

const idOf = (construct: IConstruct) => Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);

/** A member account's stack: a RESTRICTED key for S3, a bucket it encrypts, and the stack's audit trail. */
function memberAccount() {
  const stack = new Stack(new App(), 'Payments', { env: { account: ACCOUNT, region: REGION } });
  new KeyAuditTrail(stack, 'Audit', { createTrail: true });
  const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.RESTRICTED, viaServices: ['s3'], alias: 'alias/payments/cards' });
  const bucket = new s3.Bucket(stack, 'Bucket', { encryptionKey: key, encryption: s3.BucketEncryption.KMS, enforceSSL: true, bucketName: 'payments-cards' });
  bucket.grantReadWrite(key.userRole);
  const sim = PolicySimulator.fromStack(stack);
  return { stack, sim, keyArn: sim.keyArn(idOf(key)), userArn: sim.roleArn(idOf(key.userRole)), adminArn: sim.roleArn(idOf(key.adminRole)) };
}

/** The AWS default key policy: the account may use IAM for everything, so only the guardrails stand in the way. */
const DEFAULT_KEY_POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
};

const member = memberAccount();
const docs = guardrails();
const ORGANIZATION = organization(docs);

type Options = SimulationOptions & { resourceArn?: string };
const NETWORK_KEYS = ['aws:SourceIp', 'aws:SourceVpc', 'aws:ViaAWSService'];

/** A request, made from the trusted VPC unless its context says where it comes from (a direct call always comes from somewhere). */
function request(principalArn: string, action: string, options: Options) {
  const located = Object.keys(options.context ?? {}).some(k => NETWORK_KEYS.includes(k)) || principalArn.endsWith('.amazonaws.com');
  return { resourceArn: member.keyArn, ...options, context: { ...located ? {} : FROM_VPC, ...options.context }, principalArn, action };
}
async function decide(principalArn: string, action: string, options: Options = {}) {
  return member.sim.simulate(request(principalArn, action, options));
}
/** Which policies block a request: 'scp', 'rcp', 'resource', 'identity'... */
async function blockedBy(principalArn: string, action: string, options: Options = {}): Promise<string[]> {
  const explanation = await member.sim.explain(request(principalArn, action, options));
  return (explanation.result as any).result?.analysis?.blockedBy ?? [];
}
/** The same request with and without the organization's policies. */
async function withAndWithout(principalArn: string, action: string, options: SimulationOptions & { resourceArn?: string } = {}) {
  return [await decide(principalArn, action, options), await decide(principalArn, action, { ...options, organization: ORGANIZATION })];
}

describe('the SCP keeps a classified key from a member account\'s own administrators', () => {
  const changes = ['kms:ScheduleKeyDeletion', 'kms:PutKeyPolicy', 'kms:DisableKey', 'kms:DisableKeyRotation', 'kms:EnableKeyRotation',
    'kms:ImportKeyMaterial', 'kms:RotateKeyOnDemand', 'kms:ReplicateKey',
    'kms:UpdatePrimaryRegion', 'kms:DeleteImportedKeyMaterial', 'kms:CreateAlias', 'kms:UpdateAlias', 'kms:DeleteAlias',
    'kms:TagResource', 'kms:UntagResource'];

  test.each(changes)('an account admin with kms:* may %s the RESTRICTED key under the default key policy, and is EXPLICITLY DENIED under the SCP', async (action) => {
    const options = { identityPolicies: KMS_STAR, resourcePolicy: DEFAULT_KEY_POLICY, context: WITH_MFA };
    expect(await withAndWithout(ACCOUNT_ADMIN, action, options)).toEqual(['Allowed', 'ExplicitlyDenied']);
    expect(await blockedBy(ACCOUNT_ADMIN, action, { ...options, organization: ORGANIZATION })).toEqual(['scp']);
  });

  test('the key\'s own admin role, whose key policy lets it schedule deletion with MFA, is EXPLICITLY DENIED under the SCP', async () => {
    expect(await withAndWithout(member.adminArn, 'kms:ScheduleKeyDeletion', { context: WITH_MFA })).toEqual(['Allowed', 'ExplicitlyDenied']);
    expect(await withAndWithout(member.adminArn, 'kms:DisableKey', { context: WITH_MFA })).toEqual(['Allowed', 'ExplicitlyDenied']);
  });

  test('the member account\'s root user is held too (SCPs govern member accounts\' root users)', async () => {
    expect(await withAndWithout(ACCOUNT, 'kms:ScheduleKeyDeletion', { resourcePolicy: DEFAULT_KEY_POLICY })).toEqual(['Allowed', 'ExplicitlyDenied']);
  });

  test('the pipeline role can change and delete the key, and the break-glass role can where the key policy lets it', async () => {
    for (const action of changes) {
      expect(await decide(PIPELINE, action, { identityPolicies: KMS_STAR, resourcePolicy: DEFAULT_KEY_POLICY, organization: ORGANIZATION })).toBe('Allowed');
      expect(await decide(BREAK_GLASS, action, { identityPolicies: KMS_STAR, resourcePolicy: DEFAULT_KEY_POLICY, organization: ORGANIZATION })).toBe('Allowed');
    }
  });

  test('the pipeline role updates the real key policy from CloudFormation\'s network (the RCP\'s network perimeter exempts it)', async () => {
    expect(await decide(PIPELINE, 'kms:PutKeyPolicy', { identityPolicies: KMS_STAR, organization: ORGANIZATION, context: FROM_ELSEWHERE })).toBe('Allowed');
  });

  test('a key of a classification left out of protectedClassifications is not held', async () => {
    const loose = organization(guardrails({ protectedClassifications: [DataClassification.CONFIDENTIAL] }));
    const options = { identityPolicies: KMS_STAR, resourcePolicy: DEFAULT_KEY_POLICY, organization: loose };
    expect(await decide(ACCOUNT_ADMIN, 'kms:ScheduleKeyDeletion', options)).toBe('Allowed');
  });

  test('the key users still use the key: the SCP denies no cryptography', async () => {
    expect(await decide(member.userArn, 'kms:Decrypt', {
      organization: ORGANIZATION, context: { ...FROM_VPC, 'kms:ViaService': `s3.${REGION}.amazonaws.com`, 'aws:ViaAWSService': 'true' },
    })).toBe('Allowed');
  });
});

describe('the SCP\'s other denies', () => {
  test('an account admin cannot grant a person the key; an AWS service creating a grant for its resource can', async () => {
    const options = { identityPolicies: KMS_STAR, resourcePolicy: DEFAULT_KEY_POLICY, organization: ORGANIZATION };
    expect(await decide(ACCOUNT_ADMIN, 'kms:CreateGrant', { ...options, context: { 'kms:GrantIsForAWSResource': 'false' } })).toBe('ExplicitlyDenied');
    const viaEbs = { 'kms:GrantIsForAWSResource': 'true', 'aws:ViaAWSService': 'true', 'kms:ViaService': `ec2.${REGION}.amazonaws.com` };
    expect(await decide(ACCOUNT_ADMIN, 'kms:CreateGrant', { ...options, context: viaEbs })).toBe('Allowed');
  });

  test('no key is created without a valid data-classification tag, by anyone; with one, the pipeline creates it', async () => {
    const createKey = (principal: string, tags: Record<string, string>) => decide(principal, 'kms:CreateKey', {
      resourceArn: '*',
      identityPolicies: KMS_STAR,
      resourcePolicy: null,
      organization: ORGANIZATION,
      context: { ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v])), 'aws:TagKeys': Object.keys(tags) },
    });
    expect(await createKey(ACCOUNT_ADMIN, {})).toBe('ExplicitlyDenied');
    expect(await createKey(PIPELINE, {})).toBe('ExplicitlyDenied');
    expect(await createKey(ACCOUNT_ADMIN, { 'data-classification': 'RESTRICTED' })).toBe('ExplicitlyDenied');
    expect(await createKey(ACCOUNT_ADMIN, { 'data-classification': 'secret' })).toBe('ExplicitlyDenied');
    expect(await createKey(PIPELINE, { 'data-classification': 'restricted', 'owner': 'payments-team' })).toBe('Allowed');
    expect(await createKey(ACCOUNT_ADMIN, { 'data-classification': 'internal' })).toBe('Allowed');
  });

  test('the audit trail keeps recording, and its log groups keep their evidence and filters, but for the pipeline', async () => {
    const template = member.sim;
    const trailName = template.resolve(template.logicalIdsOfType('AWS::CloudTrail::Trail').map(id => ({ Ref: id }))[0]) as string;
    const trailArn = `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/${trailName}`;
    const logGroups = template.logicalIdsOfType('AWS::Logs::LogGroup').map(id => template.resolve({ 'Fn::GetAtt': [id, 'Arn'] }) as string);
    expect(logGroups.length).toBeGreaterThanOrEqual(2);
    const options = { identityPolicies: EVERYTHING, resourcePolicy: null, organization: ORGANIZATION };
    for (const action of ['cloudtrail:StopLogging', 'cloudtrail:DeleteTrail', 'cloudtrail:UpdateTrail', 'cloudtrail:PutEventSelectors']) {
      expect(await decide(ACCOUNT_ADMIN, action, { ...options, resourceArn: trailArn })).toBe('ExplicitlyDenied');
      expect(await decide(PIPELINE, action, { ...options, resourceArn: trailArn })).toBe('Allowed');
    }
    for (const logGroup of logGroups) {
      for (const action of ['logs:DeleteLogGroup', 'logs:PutRetentionPolicy', 'logs:DeleteMetricFilter', 'logs:PutMetricFilter', 'logs:DeleteLogStream']) {
        expect(await decide(ACCOUNT_ADMIN, action, { ...options, resourceArn: logGroup })).toBe('ExplicitlyDenied');
        expect(await decide(PIPELINE, action, { ...options, resourceArn: logGroup })).toBe('Allowed');
      }
    }
    // Another trail of the account is none of the guardrails' business.
    expect(await decide(ACCOUNT_ADMIN, 'cloudtrail:StopLogging', { ...options, resourceArn: `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/app-trail` })).toBe('Allowed');
  });

  test('an account admin cannot borrow the pipeline\'s exemption: no look-alike role, no new trust, no passing it', async () => {
    const options = { identityPolicies: EVERYTHING, resourcePolicy: null, organization: ORGANIZATION };
    const lookAlike = role(ACCOUNT, 'cdk-hnb659fds-cfn-exec-role-attacker');
    expect(await decide(ACCOUNT_ADMIN, 'iam:CreateRole', { ...options, resourceArn: lookAlike })).toBe('ExplicitlyDenied');
    expect(await decide(ACCOUNT_ADMIN, 'iam:UpdateAssumeRolePolicy', { ...options, resourceArn: PIPELINE })).toBe('ExplicitlyDenied');
    expect(await decide(ACCOUNT_ADMIN, 'iam:AttachRolePolicy', { ...options, resourceArn: BREAK_GLASS })).toBe('ExplicitlyDenied');
    expect(await decide(ACCOUNT_ADMIN, 'iam:PassRole', {
      ...options, resourceArn: PIPELINE, context: { 'iam:PassedToService': 'cloudformation.amazonaws.com' },
    })).toBe('ExplicitlyDenied');
    // CDK's deploy role passes the execution role to CloudFormation, as every `cdk deploy` does.
    expect(await decide(DEPLOY, 'iam:PassRole', {
      ...options, resourceArn: PIPELINE, context: { 'iam:PassedToService': 'cloudformation.amazonaws.com' },
    })).toBe('Allowed');
    // Other roles are the account's own business.
    expect(await decide(ACCOUNT_ADMIN, 'iam:CreateRole', { ...options, resourceArn: role(ACCOUNT, 'app-role') })).toBe('Allowed');
  });
});

describe('what the attacker review found, closed', () => {
  const options = { identityPolicies: EVERYTHING, resourcePolicy: null, organization: ORGANIZATION };

  test('the deploy role\'s trust and permissions cannot be widened to reach the pipeline through it', async () => {
    for (const action of ['iam:UpdateAssumeRolePolicy', 'iam:AttachRolePolicy', 'iam:PutRolePolicy']) {
      expect(await decide(ACCOUNT_ADMIN, action, { ...options, resourceArn: DEPLOY })).toBe('ExplicitlyDenied');
      expect(await decide(PIPELINE, action, { ...options, resourceArn: DEPLOY })).toBe('Allowed');
    }
  });

  test('the library\'s handler functions cannot be rewritten to act with their roles', async () => {
    const handler = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:Payments-KmsConstructsCustomResourcesHsmK-1a2b3c4d5e6f`;
    for (const action of ['lambda:UpdateFunctionCode', 'lambda:UpdateFunctionConfiguration', 'lambda:DeleteFunction']) {
      expect(await decide(ACCOUNT_ADMIN, action, { ...options, resourceArn: handler })).toBe('ExplicitlyDenied');
      expect(await decide(PIPELINE, action, { ...options, resourceArn: handler })).toBe('Allowed');
    }
    expect(await decide(ACCOUNT_ADMIN, 'lambda:UpdateFunctionCode', { ...options, resourceArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:orders-api` }))
      .toBe('Allowed');
  });

  test('a key store cannot be disconnected or deleted, its HSMs and backups cannot be deleted, and the account cannot leave', async () => {
    const calls: Array<[string, string]> = [
      ['kms:DisconnectCustomKeyStore', '*'], ['kms:DeleteCustomKeyStore', '*'], ['kms:UpdateCustomKeyStore', '*'],
      ['cloudhsm:DeleteCluster', `arn:aws:cloudhsm:${REGION}:${ACCOUNT}:cluster/cluster-1234567abcd`],
      ['cloudhsm:DeleteBackup', `arn:aws:cloudhsm:${REGION}:${ACCOUNT}:backup/backup-1234567abcd`],
      ['organizations:LeaveOrganization', '*'],
    ];
    for (const [action, resourceArn] of calls) {
      expect(await decide(ACCOUNT_ADMIN, action, { ...options, resourceArn })).toBe('ExplicitlyDenied');
      expect(await decide(BREAK_GLASS, action, { ...options, resourceArn })).toBe('Allowed');
    }
  });

  test('a grant request that does not say whether it is for an AWS resource is taken as one for a person', async () => {
    expect(await decide(ACCOUNT_ADMIN, 'kms:CreateGrant', { identityPolicies: KMS_STAR, resourcePolicy: DEFAULT_KEY_POLICY, organization: ORGANIZATION }))
      .toBe('ExplicitlyDenied');
  });

  test('the audit log groups cannot be re-encrypted with a key of the attacker\'s', async () => {
    const logGroup = `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/events/kms-key-audit/Payments`;
    expect(await decide(ACCOUNT_ADMIN, 'logs:AssociateKmsKey', { ...options, resourceArn: logGroup })).toBe('ExplicitlyDenied');
  });

  test('no key is tagged with a classification that is not one of the four, and a key tagged by hand in capitals is held', async () => {
    const otherKey = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0a1b2c3d-0000-4000-8000-000000000002`;
    const tagging = (value: string, current?: string) => decide(ACCOUNT_ADMIN, 'kms:TagResource', {
      resourceArn: otherKey,
      identityPolicies: KMS_STAR,
      resourcePolicy: DEFAULT_KEY_POLICY,
      organization: ORGANIZATION,
      context: {
        'aws:RequestTag/data-classification': value,
        'aws:TagKeys': ['data-classification'],
        ...FROM_VPC,
        ...current ? { 'aws:ResourceTag/data-classification': current } : {},
      },
    });
    expect(await tagging('top-secret')).toBe('ExplicitlyDenied');
    expect(await tagging('internal')).toBe('Allowed');
    expect(await tagging('internal', 'Restricted')).toBe('ExplicitlyDenied');
    expect(await decide(ACCOUNT_ADMIN, 'kms:ScheduleKeyDeletion', {
      resourceArn: otherKey,
      identityPolicies: KMS_STAR,
      resourcePolicy: DEFAULT_KEY_POLICY,
      organization: ORGANIZATION,
      context: { 'aws:ResourceTag/data-classification': 'Restricted' },
    })).toBe('ExplicitlyDenied');
  });

  test('a role of the management account or of another member, named in the key policy, cannot change a classified key (RCP)', async () => {
    for (const account of [MANAGEMENT, '222222222222']) {
      const admin = role(account, 'CentralKeyAdmin');
      const twoMembers = { ...ORGANIZATION, memberAccounts: [ACCOUNT, '222222222222'] };
      const namesIt: PolicyDocument = {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: admin }, Action: ['kms:PutKeyPolicy', 'kms:Decrypt'], Resource: '*' }],
      };
      const asAdmin = { identityPolicies: KMS_STAR, resourcePolicy: namesIt, organization: twoMembers };
      expect(await decide(admin, 'kms:PutKeyPolicy', asAdmin)).toBe('ExplicitlyDenied');
      expect(await blockedBy(admin, 'kms:PutKeyPolicy', asAdmin)).toContain('rcp');
      // Using the key as its policy allows stays theirs.
      expect(await decide(admin, 'kms:Decrypt', asAdmin)).toBe('Allowed');
    }
  });

  test('a partner\'s role named like the pipeline gets no network exemption', async () => {
    const lookAlike = role(PARTNER, `cdk-hnb659fds-cfn-exec-role-${PARTNER}-${REGION}`);
    const namesPartner: PolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: lookAlike }, Action: 'kms:Decrypt', Resource: '*' }] };
    const trusting = organization(guardrails({ trustedAccounts: [PARTNER] }));
    const asPartner = { identityPolicies: KMS_STAR, resourcePolicy: namesPartner, organization: trusting };
    expect(await decide(lookAlike, 'kms:Decrypt', { ...asPartner, context: FROM_ELSEWHERE })).toBe('ExplicitlyDenied');
    expect(await decide(lookAlike, 'kms:Decrypt', { ...asPartner, context: FROM_VPC })).toBe('Allowed');
  });
});

describe('the RCP keeps the organization\'s keys to the organization', () => {
  const outsider = role(OUTSIDE, 'Exfiltrator');
  const namesOutsider: PolicyDocument = {
    Version: '2012-10-17',
    Statement: [...(DEFAULT_KEY_POLICY.Statement as object[]),
      { Effect: 'Allow', Principal: { AWS: outsider }, Action: ['kms:Decrypt', 'kms:DescribeKey'], Resource: '*' }] as PolicyDocument['Statement'],
  };

  test('a principal outside the organization, named by the key policy, is EXPLICITLY DENIED', async () => {
    const options = { identityPolicies: KMS_STAR, resourcePolicy: namesOutsider, context: FROM_VPC };
    expect(await withAndWithout(outsider, 'kms:Decrypt', options)).toEqual(['Allowed', 'ExplicitlyDenied']);
    expect(await blockedBy(outsider, 'kms:Decrypt', { ...options, organization: ORGANIZATION })).toEqual(['rcp']);
    expect(await withAndWithout(outsider, 'kms:DescribeKey', options)).toEqual(['Allowed', 'ExplicitlyDenied']);
  });

  test('a principal of another organization is EXPLICITLY DENIED too; a trusted partner account passes', async () => {
    const options = { identityPolicies: KMS_STAR, resourcePolicy: namesOutsider, context: { ...FROM_VPC, 'aws:PrincipalOrgID': OTHER_ORG } };
    expect(await decide(outsider, 'kms:Decrypt', { ...options, organization: ORGANIZATION })).toBe('ExplicitlyDenied');
    const partner = role(PARTNER, 'Analytics');
    const namesPartner: PolicyDocument = { ...namesOutsider, Statement: [{ Effect: 'Allow', Principal: { AWS: partner }, Action: 'kms:Decrypt', Resource: '*' }] };
    const trusting = organization(guardrails({ trustedAccounts: [PARTNER] }));
    expect(await decide(partner, 'kms:Decrypt', { identityPolicies: KMS_STAR, resourcePolicy: namesPartner, context: FROM_VPC, organization: ORGANIZATION }))
      .toBe('ExplicitlyDenied');
    expect(await decide(partner, 'kms:Decrypt', { identityPolicies: KMS_STAR, resourcePolicy: namesPartner, context: FROM_VPC, organization: trusting }))
      .toBe('Allowed');
  });

  test('an AWS service acting for the organization\'s resources passes; acting for another organization\'s, it is EXPLICITLY DENIED', async () => {
    const trailKeyPolicy: PolicyDocument = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'cloudtrail.amazonaws.com' }, Action: 'kms:GenerateDataKey*', Resource: '*' }],
    };
    const asCloudTrail = (account: string, org: string) => decide('cloudtrail.amazonaws.com', 'kms:GenerateDataKey', {
      resourcePolicy: trailKeyPolicy,
      organization: ORGANIZATION,
      context: { 'aws:SourceAccount': account, 'aws:SourceOrgID': org, 'aws:SourceArn': `arn:aws:cloudtrail:${REGION}:${account}:trail/t` },
    });
    expect(await asCloudTrail(ACCOUNT, ORG)).toBe('Allowed');
    expect(await asCloudTrail(OUTSIDE, OTHER_ORG)).toBe('ExplicitlyDenied');
  });
});

describe('the RCP\'s network perimeter', () => {
  test('the key user decrypts from the trusted VPC and office, and is EXPLICITLY DENIED from another VPC or the internet', async () => {
    const asUser = (context: ContextValues) => decide(member.userArn, 'kms:Decrypt', {
      organization: ORGANIZATION, context: { ...context, 'kms:ViaService': `s3.${REGION}.amazonaws.com` }, allowIgnoredContextKeys: true,
    });
    expect(await asUser(FROM_VPC)).toBe('Allowed');
    expect(await asUser(FROM_OFFICE)).toBe('Allowed');
    expect(await asUser(FROM_OTHER_VPC)).toBe('ExplicitlyDenied');
    expect(await asUser(FROM_ELSEWHERE)).toBe('ExplicitlyDenied');
  });

  test('S3 server-side encryption works for the user through the VPC\'s S3 endpoint: S3 calls KMS for the user', async () => {
    const s3EndpointPolicy: PolicyDocument = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: '*', Condition: { StringEquals: { 'aws:PrincipalOrgID': ORG } } }],
    };
    const objectArn = 'arn:aws:s3:::payments-cards/cards/0001.json';
    const throughEndpoint = { 'aws:SourceVpc': VPC, 'aws:SourceVpce': S3_ENDPOINT };
    // 1. The user puts an object through the gateway endpoint.
    expect(await member.sim.simulate({
      principalArn: member.userArn,
      action: 's3:PutObject',
      resourceArn: objectArn,
      organization: ORGANIZATION,
      vpcEndpointPolicies: [s3EndpointPolicy],
      context: { ...throughEndpoint, 's3:x-amz-server-side-encryption': 'aws:kms' },
    })).toBe('Allowed');
    // 2. S3 asks KMS for a data key and later decrypts it, for the user, from S3's own network.
    const viaS3: ContextValues = {
      'aws:ViaAWSService': 'true',
      'aws:CalledVia': ['s3.amazonaws.com'],
      'kms:ViaService': `s3.${REGION}.amazonaws.com`,
      'kms:EncryptionContext:aws:s3:arn': 'arn:aws:s3:::payments-cards',
    };
    for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
      expect(await decide(member.userArn, action, { organization: ORGANIZATION, context: viaS3 })).toBe('Allowed');
    }
    // The same user calling KMS directly from outside the trusted networks is denied.
    expect(await decide(member.userArn, 'kms:Decrypt', {
      organization: ORGANIZATION, context: { ...FROM_ELSEWHERE, 'kms:ViaService': `s3.${REGION}.amazonaws.com` },
    })).toBe('ExplicitlyDenied');
  });

  test('the reads of a key\'s settings stay open from AWS\'s network (Config, inventories, the library\'s lookups)', async () => {
    const inventory = role(ACCOUNT, 'Inventory');
    for (const action of ['kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:ListResourceTags', 'kms:GetKeyRotationStatus']) {
      const options = { identityPolicies: KMS_STAR, resourcePolicy: DEFAULT_KEY_POLICY, organization: ORGANIZATION, context: FROM_ELSEWHERE };
      expect(await decide(inventory, action, options)).toBe('Allowed');
    }
  });

  test('without trustedNetworks, the RCP holds identities only: any network passes', async () => {
    const noNetwork = organization(guardrails({ trustedNetworks: undefined }));
    expect(await decide(member.userArn, 'kms:Decrypt', {
      organization: noNetwork, context: { ...FROM_ELSEWHERE, 'kms:ViaService': `s3.${REGION}.amazonaws.com` },
    })).toBe('Allowed');
  });
});

describe('what the guardrails leave alone, as AWS does', () => {
  test('the management account is governed by neither policy', async () => {
    const managementAdmin = role(MANAGEMENT, 'OrgAdmin');
    const managementKey = `arn:aws:kms:${REGION}:${MANAGEMENT}:key/0a1b2c3d-0000-4000-8000-000000000001`;
    const policy: PolicyDocument = { ...DEFAULT_KEY_POLICY, Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${MANAGEMENT}:root` }, Action: 'kms:*', Resource: '*' }] };
    expect(await decide(managementAdmin, 'kms:ScheduleKeyDeletion', {
      resourceArn: managementKey,
      identityPolicies: KMS_STAR,
      resourcePolicy: policy,
      organization: ORGANIZATION,
      context: { 'aws:ResourceTag/data-classification': 'restricted', ...FROM_ELSEWHERE },
    })).toBe('Allowed');
  });

  test('a service-linked role is governed by neither', async () => {
    const slr = `arn:aws:iam::${ACCOUNT}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig`;
    expect(await decide(slr, 'kms:TagResource', { identityPolicies: KMS_STAR, resourcePolicy: DEFAULT_KEY_POLICY, organization: ORGANIZATION, context: FROM_ELSEWHERE }))
      .toBe('Allowed');
  });
});
