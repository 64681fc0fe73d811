/**
 * CustomKeyStore and its keys: the custom resources, their handlers' least-privilege
 * roles, the store's alarms, bad input refused at synth, and the key policy of a key
 * in the store evaluated as any ClassifiedKey's (separation, consumers, the handler
 * that creates it).
 */
import { App, CfnElement, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { CloudHsmCluster, ClassifiedKey, ClassifiedKeyProps, CustomKeyStore, CustomKeyStoreProps, DataClassification } from '../src';
import { PolicySimulator } from './support/policy-sim';
import { ACCOUNT, OTHER_ACCOUNT, REGION } from './support/stack';

const CERT = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUeXample0123456789abcdefABCDEF==\n-----END CERTIFICATE-----';
const CLUSTER = 'cluster-2a3b4cdefgh';
const DEPLOY_ROLE = `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${REGION}`;

function storeIn(stack: Stack, props: Partial<CustomKeyStoreProps> = {}, id = 'Store'): CustomKeyStore {
  return new CustomKeyStore(stack, id, {
    cluster: CloudHsmCluster.fromClusterAttributes(stack, `${id}Cluster`, { clusterId: CLUSTER }),
    customKeyStoreName: 'payments-hsm',
    trustAnchorCertificate: CERT,
    kmsUserPassword: secretsmanager.Secret.fromSecretNameV2(stack, `${id}Password`, 'kmsuser-password'),
    ...props,
  });
}

function newStack(): Stack {
  return new Stack(new App(), 'Hsm', { env: { account: ACCOUNT, region: REGION } });
}

const idOf = (construct: { node: { defaultChild?: unknown } }) => {
  const element = construct.node.defaultChild as CfnElement;
  return Stack.of(element).getLogicalId(element);
};

const resourcesOfType = (template: any, type: string) => Object.entries<any>(template.Resources).filter(([, r]) => r.Type === type);

describe('the store', () => {
  test('is a custom resource named after its cluster and certificate; the password stays in its secret', () => {
    const stack = newStack();
    const store = storeIn(stack);
    const template = Template.fromStack(stack).toJSON();
    const [[id, resource]] = resourcesOfType(template, 'Custom::KmsCustomKeyStore');
    expect(id).toBe(idOf(store));
    expect(resource).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(resource.Properties).toMatchObject({ CustomKeyStoreName: 'payments-hsm', CloudHsmClusterId: CLUSTER, TrustAnchorCertificate: CERT });
    expect(JSON.stringify(resource.Properties.PasswordSecretArn)).toContain(':secret:kmsuser-password');
    expect(JSON.stringify(template)).not.toMatch(/KeyStorePassword/);
    expect(stack.resolve(store.customKeyStoreId)).toEqual({ 'Fn::GetAtt': [id, 'CustomKeyStoreId'] });
  });

  test('deleting it is opt-in', () => {
    const stack = newStack();
    storeIn(stack, { removalPolicy: RemovalPolicy.DESTROY });
    const [[, resource]] = resourcesOfType(Template.fromStack(stack).toJSON(), 'Custom::KmsCustomKeyStore');
    expect(resource).toMatchObject({ DeletionPolicy: 'Delete' });
  });

  test('the deployment waits for the connection: a wait every 30 seconds, for up to 30 minutes', () => {
    const stack = newStack();
    storeIn(stack);
    const template = Template.fromStack(stack).toJSON();
    const [[, machine]] = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
    const definition = JSON.stringify(machine.Properties.DefinitionString);
    expect(definition).toContain('\\"IntervalSeconds\\":30');
    expect(definition).toContain('\\"MaxAttempts\\":60');
    expect(machine.Properties.TracingConfiguration).toEqual({ Enabled: true });
    expect(machine.Properties.LoggingConfiguration.Level).toBe('ALL');
    // The framework's onEvent starts the waiter: its role's policy says so.
    const [[machineId]] = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
    const [[, frameworkPolicy]] = resourcesOfType(template, 'AWS::IAM::ManagedPolicy').filter(([id]) => /CustomKeyStoreFrameworkPolicy/.test(id));
    expect(frameworkPolicy.Properties.PolicyDocument.Statement).toContainEqual({ Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: machineId } });
    const onEvent = resourcesOfType(template, 'AWS::Lambda::Function').find(([id]) => id.includes('CustomKeyStoreProviderframeworkonEvent'))![1];
    expect(onEvent.Properties.Role).toEqual({ 'Fn::GetAtt': [frameworkPolicy.Properties.Roles[0].Ref, 'Arn'] });
  });

  test('its handler may read the password secret and manage custom key stores, nothing of keys but describing them', () => {
    const stack = newStack();
    storeIn(stack);
    const template = Template.fromStack(stack).toJSON();
    const policies = resourcesOfType(template, 'AWS::IAM::ManagedPolicy').filter(([id]) => id.includes('CustomKeyStoreHandlerPolicy'));
    expect(policies).toHaveLength(1);
    const statements = policies[0][1].Properties.PolicyDocument.Statement;
    const actions = statements.flatMap((s: any) => [s.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['kms:CreateCustomKeyStore', 'kms:ConnectCustomKeyStore', 'kms:DeleteCustomKeyStore', 'secretsmanager:GetSecretValue', 'cloudhsm:DescribeClusters']));
    expect(actions.filter((a: string) => /^kms:(Decrypt|Encrypt|CreateKey|PutKeyPolicy|ScheduleKeyDeletion)/.test(a))).toEqual([]);
    const secretRead = statements.find((s: any) => s.Action === 'secretsmanager:GetSecretValue');
    expect(JSON.stringify(secretRead.Resource)).toContain(':secret:kmsuser-password-??????');
    const linked = statements.find((s: any) => s.Action === 'iam:CreateServiceLinkedRole');
    expect(linked.Condition).toEqual({ StringEquals: { 'iam:AWSServiceName': 'cks.kms.amazonaws.com' } });
  });

  test('by policy evaluation: every handler may read its own stack in CloudFormation and no other; the store\'s may tag its own cluster only', async () => {
    const stack = newStack();
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
      vpcId: 'vpc-0123456789abcdef0', availabilityZones: [`${REGION}a`, `${REGION}b`], isolatedSubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
    });
    new CloudHsmCluster(stack, 'NewCluster', { vpc });
    storeIn(stack).addKey('Key', { classification: DataClassification.INTERNAL });
    const sim = PolicySimulator.fromStack(stack);
    const roles = sim.logicalIdsOfType('AWS::IAM::Role').filter(id => /^KmsConstructsCustomResources\w+(Handler|IsComplete)Role/.test(id));
    expect(roles).toHaveLength(5);
    const own = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/Hsm/00000000-0000-4000-8000-000000000000`;
    const others = [
      `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/Hsm/99999999-0000-4000-8000-000000000000`,
      `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/Payments/00000000-0000-4000-8000-000000000000`,
    ];
    for (const id of roles) {
      for (const action of ['cloudformation:DescribeStackResource', 'cloudformation:DescribeStacks', 'cloudformation:DescribeStackEvents']) {
        expect(await sim.simulate({ principalArn: sim.roleArn(id), action, resourceArn: own })).toBe('Allowed');
        for (const other of others) expect(await sim.simulate({ principalArn: sim.roleArn(id), action, resourceArn: other })).not.toBe('Allowed');
      }
    }
    const storeHandler = sim.roleArn(roles.find(id => id.includes('CustomKeyStoreHandlerRole'))!);
    const cluster = (id: string) => `arn:aws:cloudhsm:${REGION}:${ACCOUNT}:cluster/${id}`;
    for (const action of ['cloudhsm:TagResource', 'cloudhsm:ListTags']) {
      expect(await sim.simulate({ principalArn: storeHandler, action, resourceArn: cluster(CLUSTER) })).toBe('Allowed');
      expect(await sim.simulate({ principalArn: storeHandler, action, resourceArn: cluster('cluster-7z7z7z7z7z7') })).not.toBe('Allowed');
    }
  });

  test('a password secret encrypted with a ClassifiedKey lets the handler decrypt it through Secrets Manager only', async () => {
    const stack = newStack();
    const secretKey = new ClassifiedKey(stack, 'SecretKey', { classification: DataClassification.CONFIDENTIAL, viaServices: ['secretsmanager'] });
    const secret = new secretsmanager.Secret(stack, 'KmsUser', { encryptionKey: secretKey });
    storeIn(stack, { kmsUserPassword: secret });
    const sim = PolicySimulator.fromStack(stack);
    const handler = sim.roleArn(sim.logicalIdsOfType('AWS::IAM::Role').find(id => id.includes('CustomKeyStoreHandlerRole'))!);
    const keyArn = sim.keyArn(idOf(secretKey));
    const via = { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com`, 'kms:CallerAccount': ACCOUNT };
    expect(await sim.simulate({ principalArn: handler, action: 'kms:Decrypt', resourceArn: keyArn, context: via })).toBe('Allowed');
    expect(await sim.simulate({ principalArn: handler, action: 'kms:Decrypt', resourceArn: keyArn })).not.toBe('Allowed');
  });

  test('alarms on KMS throttling its keys and an unhealthy HSM, notifying the trail\'s topic', () => {
    const stack = newStack();
    const store = storeIn(stack);
    const template = Template.fromStack(stack).toJSON();
    expect(store.alarms.map(a => a.node.id)).toEqual(['KeyStoreThrottleAlarm', 'HsmUnhealthyAlarm']);
    const [throttle, unhealthy] = store.alarms.map(a => template.Resources[idOf(a)]);
    expect(JSON.stringify(throttle.Properties.Metrics[0].Expression)).toContain('SELECT SUM(CloudHSMKeyStoreThrottle) FROM \\"AWS/KMS\\" WHERE CustomKeyStoreId =');
    expect(unhealthy.Properties.Metrics[0].Expression).toBe(`SELECT MAX(HsmUnhealthy) FROM "AWS/CloudHSM" WHERE ClusterId = '${CLUSTER}'`);
    // The store's metric is the query its alarm watches.
    const metric = store.metricThrottle().toMetricConfig().mathExpression!;
    expect(stack.resolve(metric.expression)).toEqual(throttle.Properties.Metrics[0].Expression);
    expect(metric.period).toBe(300);
    for (const alarm of [throttle, unhealthy]) {
      expect(alarm.Properties).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
      expect(template.Resources[alarm.Properties.AlarmActions[0].Ref].Type).toBe('AWS::SNS::Topic');
    }
  });

  test('two stores of a stack share their handlers, and their policies say each thing once', () => {
    const stack = newStack();
    storeIn(stack);
    storeIn(stack, { customKeyStoreName: 'other' }, 'Other');
    const template = Template.fromStack(stack).toJSON();
    expect(resourcesOfType(template, 'AWS::Lambda::Function').filter(([id]) => id.includes('CustomKeyStore'))).toHaveLength(5);
    const [[, policy]] = resourcesOfType(template, 'AWS::IAM::ManagedPolicy').filter(([id]) => id.includes('CustomKeyStoreHandlerPolicy'));
    const create = policy.Properties.PolicyDocument.Statement.filter((s: any) => [s.Action].flat().includes('kms:CreateCustomKeyStore'));
    expect(create).toHaveLength(1);
    // Both read a secret of the same name: one statement.
    expect(policy.Properties.PolicyDocument.Statement.filter((s: any) => s.Action === 'secretsmanager:GetSecretValue')).toHaveLength(1);
  });
});

describe('a key in the store', () => {
  const build = (props: Partial<ClassifiedKeyProps> = {}, extra?: (stack: Stack, key: ClassifiedKey) => void) => {
    const stack = newStack();
    const store = storeIn(stack);
    const key = store.addKey('PaymentsKey', { classification: DataClassification.CONFIDENTIAL, viaServices: ['s3'], owner: 'payments', ...props });
    extra?.(stack, key);
    return { stack, store, key, template: Template.fromStack(stack).toJSON() };
  };

  test('is made in the store by its custom resource, with the policy, description, tags and pending window', () => {
    const { stack, store, key, template } = build({ pendingWindow: Duration.days(7) });
    const resource = template.Resources[idOf(key)];
    expect(resource.Type).toBe('Custom::KmsHsmKey');
    expect(resource).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(resource.Properties.CustomKeyStoreId).toEqual({ 'Fn::GetAtt': [idOf(store), 'CustomKeyStoreId'] });
    expect(resource.Properties).toMatchObject({ PendingWindowInDays: 7, Description: 'CONFIDENTIAL key Hsm/Store/PaymentsKey, managed by cdk-kms-constructs' });
    expect(resource.Properties.Tags).toEqual([{ Key: 'data-classification', Value: 'confidential' }, { Key: 'owner', Value: 'payments' }]);
    expect(resource.Properties.KeyPolicy.Statement.map((s: any) => s.Sid)).toEqual(expect.arrayContaining(['KeyAdministration', 'KeyPolicyChanges', 'DenyGrantsNotForAwsResources']));
    expect(stack.resolve(key.keyArn)).toEqual({ 'Fn::GetAtt': [idOf(key), 'Arn'] });
    // Never rotated: no rotation administration in its policy.
    expect(JSON.stringify(resource.Properties.KeyPolicy)).not.toContain('kms:EnableKeyRotation');
    expect(key.rotationEnabled).toBe(false);
    expect(key.alarms.map(a => a.node.id)).toEqual(['KeyStateChangesAlarm', 'KeyPolicyOrGrantChangesAlarm', 'KeyAliasOrTagChangesAlarm', 'DeniedRequestsAlarm']);
  });

  test('the handler\'s role writes its policy (KMS requires it of the key\'s creator), and manages only keys of CloudHSM origin', () => {
    const { key, template } = build();
    const changes = template.Resources[idOf(key)].Properties.KeyPolicy.Statement.find((s: any) => s.Sid === 'KeyPolicyChanges');
    expect(JSON.stringify(changes.Condition)).toMatch(/KmsConstructsCustomResourcesHsmKeyHandlerRole/);
    // Named as a principal too: KMS's lockout check at CreateKey reads the key policy alone.
    expect(JSON.stringify(changes.Principal)).toMatch(/KmsConstructsCustomResourcesHsmKeyHandlerRole/);
    const [[, policy]] = resourcesOfType(template, 'AWS::IAM::ManagedPolicy').filter(([id]) => id.includes('HsmKeyHandlerPolicy'));
    for (const statement of policy.Properties.PolicyDocument.Statement) {
      const actions = [statement.Action].flat();
      const reads = ['kms:ListKeys', 'kms:DescribeKey', 'kms:ListResourceTags'];
      if (actions.some((a: string) => a.startsWith('kms:') && !reads.includes(a))) {
        expect(statement.Condition.StringEquals['kms:KeyOrigin']).toBe('AWS_CLOUDHSM');
      }
      if (actions.includes('kms:PutKeyPolicy')) {
        expect(statement.Condition.StringEquals['aws:ResourceAccount']).toBe(ACCOUNT);
      }
    }
  });

  test('by policy evaluation: user, admin and consumers as any ClassifiedKey; the handler writes the policy; nobody else', async () => {
    const { stack, key, template } = build({ userRoleAssumedBy: new iam.AccountRootPrincipal(), viaServices: ['s3', 'dynamodb'] }, (s, k) => {
      new s3.Bucket(s, 'Statements', { encryptionKey: k, enforceSSL: true });
      new dynamodb.Table(s, 'Ledger', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: k,
      });
      k.grantDecrypt(new iam.Role(s, 'Reader', { assumedBy: new iam.AccountRootPrincipal() }));
    });
    const sim = PolicySimulator.fromStack(stack);
    const keyArn = sim.keyArn(idOf(key));
    const role = (id: string) => sim.roleArn(sim.logicalIdsOfType('AWS::IAM::Role').find(r => r.startsWith(id))!);
    const reader = role('Reader');
    const user = sim.roleArn(idOf(key.userRole as iam.Role));
    const admin = sim.roleArn(idOf(key.adminRole as iam.Role));
    const handlerRole = role('KmsConstructsCustomResourcesHsmKeyHandlerRole');
    const viaS3 = { 'kms:ViaService': `s3.${REGION}.amazonaws.com`, 'kms:CallerAccount': ACCOUNT };
    const mfa = { 'aws:MultiFactorAuthPresent': 'true' };
    const decide = (principalArn: string, action: string, context: Record<string, string> = {}, identityPolicies?: any[]) =>
      sim.simulate({ principalArn, action, resourceArn: keyArn, context, ...(identityPolicies ? { identityPolicies } : {}) });
    expect(await decide(reader, 'kms:Decrypt', viaS3)).toBe('Allowed');
    expect(await decide(reader, 'kms:Decrypt')).not.toBe('Allowed');
    expect(await decide(user, 'kms:GenerateDataKey', viaS3)).toBe('Allowed');
    expect(await decide(user, 'kms:ScheduleKeyDeletion', viaS3)).not.toBe('Allowed');
    expect(await decide(admin, 'kms:ScheduleKeyDeletion', mfa)).toBe('Allowed');
    expect(await decide(admin, 'kms:Decrypt', { ...viaS3, ...mfa })).not.toBe('Allowed');
    // The deploy role creates the table through DynamoDB only.
    const viaDynamoDb = { 'kms:ViaService': `dynamodb.${REGION}.amazonaws.com`, 'kms:CallerAccount': ACCOUNT };
    expect(await decide(DEPLOY_ROLE, 'kms:CreateGrant', { ...viaDynamoDb, 'kms:GrantIsForAWSResource': 'true' })).toBe('Allowed');
    expect(await decide(DEPLOY_ROLE, 'kms:DescribeKey', viaDynamoDb)).toBe('Allowed');
    expect(await decide(DEPLOY_ROLE, 'kms:Decrypt', viaS3)).not.toBe('Allowed');
    expect(await decide(DEPLOY_ROLE, 'kms:Decrypt')).not.toBe('Allowed');
    // The handler, with its own policy, may rewrite the key policy and never use the key.
    // The key policy alone lets the handler write it, as KMS's lockout check asks; it
    // never lets the handler use the key.
    expect(await sim.simulate({ principalArn: handlerRole, action: 'kms:PutKeyPolicy', resourceArn: keyArn, includeTemplateIdentityPolicies: false })).toBe('Allowed');
    expect(await decide(handlerRole, 'kms:Decrypt', { ...viaS3, 'kms:KeyOrigin': 'AWS_CLOUDHSM' })).not.toBe('Allowed');
    // The account's kms:* principals and another account.
    const everything = [PolicySimulator.allowPolicy('kms:*')];
    expect(await decide(`arn:aws:iam::${ACCOUNT}:role/Administrator`, 'kms:Decrypt', viaS3, everything)).not.toBe('Allowed');
    expect(await decide(`arn:aws:iam::${ACCOUNT}:role/Administrator`, 'kms:PutKeyPolicy', {}, everything)).not.toBe('Allowed');
    expect(await decide(`arn:aws:iam::${OTHER_ACCOUNT}:role/Thief`, 'kms:Decrypt', viaS3, everything)).not.toBe('Allowed');
    expect(template.Resources[idOf(key)].DependsOn).toEqual(expect.arrayContaining([idOf(key.adminRole as iam.Role)]));
  });

  test.each<[string, Partial<ClassifiedKeyProps>, string]>([
    ['an asymmetric key', { keySpec: kms.KeySpec.RSA_2048, keyUsage: kms.KeyUsage.SIGN_VERIFY }, 'keySpec must not be set for a key in a CloudHSM key store, which holds symmetric encryption keys only, got RSA_2048'],
    ['an HMAC key', { keySpec: kms.KeySpec.HMAC_256 }, 'keySpec must not be set for a key in a CloudHSM key store, which holds symmetric encryption keys only, got HMAC_256'],
    ['another usage', { keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC }, 'keyUsage must not be set for a key in a CloudHSM key store, which holds symmetric encryption keys only, got GENERATE_VERIFY_MAC'],
    ['imported material', { importKeyMaterial: true }, 'importKeyMaterial must not be set for a key in a CloudHSM key store, which makes the material in its HSMs, got true'],
    ['rotation', { enableKeyRotation: true }, 'enableKeyRotation must not be set for a key in a CloudHSM key store, which KMS never rotates, got true'],
    ['a rotation period', { rotationPeriod: Duration.days(90) }, 'rotationPeriod must not be set for a key in a CloudHSM key store, which KMS never rotates, got Duration.days(90)'],
  ])('%s is refused at synth, naming the prop', (_name, props, message) => {
    expect(() => build(props)).toThrow(message);
  });

  test('a CONFIDENTIAL key in a store needs no rotation: its material never leaves the HSMs, and KMS cannot rotate it', () => {
    expect(() => build()).not.toThrow();
  });
});

describe('bad input fails at synth, naming the prop and the value', () => {
  test.each<[string, (stack: Stack) => void, string]>([
    ['a malformed cluster ID', s => CloudHsmCluster.fromClusterAttributes(s, 'C', { clusterId: 'cluster-1' }), 'clusterId must be a CloudHSM cluster ID (cluster- and 11 to 16 letters or digits 2-7), got cluster-1'],
    ['a malformed security group', s => CloudHsmCluster.fromClusterAttributes(s, 'C', { clusterId: CLUSTER, securityGroupId: 'default' }), 'securityGroupId must be a security group ID (sg- and 8 to 17 hexadecimal digits), got default'],
    ['an empty store name', s => storeIn(s, { customKeyStoreName: '' }), 'customKeyStoreName must be 1 to 256 characters, got "" (0)'],
    ['a certificate that is not PEM', s => storeIn(s, { trustAnchorCertificate: 'MIIBszCCAVmgAwIBAgIU' }), 'trustAnchorCertificate must be a PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----), the customerCA.crt the cluster was initialized with, got "MIIBszCCAVmgAwIBAgIU"'],
    ['a private key instead of a certificate', s => storeIn(s, { trustAnchorCertificate: '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----' }), 'trustAnchorCertificate must be a PEM certificate'],
    ['a certificate too long', s => storeIn(s, { trustAnchorCertificate: `-----BEGIN CERTIFICATE-----\n${'A'.repeat(5000)}\n-----END CERTIFICATE-----` }), 'trustAnchorCertificate must be at most 5000 characters, as KMS takes, got 5054'],
    ['a snapshot removal policy', s => storeIn(s, { removalPolicy: RemovalPolicy.SNAPSHOT }), 'removalPolicy must be RETAIN, RETAIN_ON_UPDATE_OR_DELETE or DESTROY for a custom key store, got SNAPSHOT'],
  ])('%s', (_name, make, message) => {
    expect(() => make(newStack())).toThrow(message);
  });
});
