/**
 * The attack catalogue: each path by which someone with ordinary account permissions
 * could use, destroy, re-point or take over a classified key, tried against the
 * synthesized policies with the policy simulator (test/support/policy-sim.ts), which
 * sets `aws:PrincipalArn`, `aws:PrincipalAccount` and `kms:CallerAccount` as AWS sets
 * them. Each test asserts the denial (or the synth error) for the attacker's request,
 * asked with the most favourable context the attacker could give it (MFA, the key's
 * service), so that no denial holds only because a context key is missing.
 *
 * The attacker: an IAM principal of the key's account whose identity policy allows
 * kms:* on everything, as PowerUserAccess does.
 */
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { IConstruct } from 'constructs';
import {
  ClassifiedKey, CloudHsmCluster, CustomKeyStore, DataClassification, MultiRegionKeySet,
} from '../src';
import { ContextValues, PolicySimulator } from './support/policy-sim';
import { ACCOUNT, newStack, REGION } from './support/stack';

const KMS_STAR_PRINCIPAL = `arn:aws:iam::${ACCOUNT}:role/PowerUser`;
const KMS_STAR = [PolicySimulator.allowPolicy('kms:*')];
const ROOT_USER = `arn:aws:iam::${ACCOUNT}:root`;
const deployRole = (region: string) => `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${region}`;

/** What destroys, disables, re-points or re-tags a key, or rewrites who may use it. */
const TAKEOVER = [
  'kms:ScheduleKeyDeletion', 'kms:DisableKey', 'kms:UpdateAlias', 'kms:DeleteAlias', 'kms:CreateAlias',
  'kms:TagResource', 'kms:UntagResource', 'kms:PutKeyPolicy', 'kms:UpdateKeyDescription', 'kms:RevokeGrant',
  'kms:DisableKeyRotation', 'kms:CancelKeyDeletion', 'kms:EnableKey',
];
/** Every action that uses a key (of any usage), and creating grants that hand use on. */
const CRYPTOGRAPHY = [
  'kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext', 'kms:GenerateDataKeyPair', 'kms:GenerateDataKeyPairWithoutPlaintext',
  'kms:Sign', 'kms:Verify', 'kms:GenerateMac', 'kms:VerifyMac', 'kms:DeriveSharedSecret', 'kms:CreateGrant',
];

const logicalId = (construct: IConstruct) => {
  const element = construct.node.defaultChild as CfnElement;
  return Stack.of(element).getLogicalId(element);
};

/** A key in one of its homes, synthesized and ready to be simulated. */
interface KeyUnderAttack {
  readonly sim: PolicySimulator;
  readonly keyArn: string;
  readonly region: string;
  /** The principals that must keep managing the key, so that it is never locked out. */
  readonly managers: string[];
  /** The handler that creates the key and writes its policy and tags, for a key it makes. */
  readonly handlerArn?: string;
}

function attackable(key: ClassifiedKey, handlerRole?: iam.IRole): KeyUnderAttack {
  const stack = Stack.of(key);
  const sim = PolicySimulator.fromStack(stack);
  return {
    sim,
    keyArn: sim.keyArn(logicalId(key)),
    region: stack.region,
    managers: [ROOT_USER, deployRole(stack.region)],
    handlerArn: handlerRole && sim.roleArn(logicalId(handlerRole)),
  };
}

const HOMES: Record<string, (classification: DataClassification) => KeyUnderAttack> = {
  'a standard key': classification => {
    const stack = newStack();
    return attackable(new ClassifiedKey(stack, 'Key', { classification, viaServices: ['dynamodb'] }));
  },
  'a multi-Region primary': classification => attackable(multiRegionSet(classification).primaryKey),
  'a multi-Region replica': classification => attackable(multiRegionSet(classification).keyIn('eu-west-1')),
  'a key in a CloudHSM key store': classification => {
    const stack = newStack();
    const store = new CustomKeyStore(stack, 'Store', {
      cluster: CloudHsmCluster.fromClusterAttributes(stack, 'Cluster', { clusterId: 'cluster-jxhlf7644ne' }),
      customKeyStoreName: 'vault',
      trustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nMIIDUzCCAjugAwIBAgIU\n-----END CERTIFICATE-----',
      kmsUserPassword: secretsmanager.Secret.fromSecretNameV2(stack, 'KmsUser', 'vault/kmsuser'),
    });
    const key = store.addKey('Key', { classification, viaServices: ['dynamodb'] });
    // The keys' handler creates the key, so writes its policy (KMS's lockout check).
    const handler = stack.node.findAll().find((c): c is iam.Role => c instanceof iam.Role && c.node.path.endsWith('/HsmKey/HandlerRole'));
    return attackable(key, handler);
  },
};

function multiRegionSet(classification: DataClassification): MultiRegionKeySet {
  return new MultiRegionKeySet(new App(), 'Orders', {
    account: ACCOUNT,
    primaryRegion: REGION,
    replicaRegions: ['eu-west-1'],
    classification,
    viaServices: ['dynamodb'],
  });
}

/** The most favourable context the attacker can give a request for `action`. */
function favourable(region: string, action: string): ContextValues {
  const context: ContextValues = { 'aws:MultiFactorAuthPresent': 'true' };
  if (CRYPTOGRAPHY.includes(action)) context['kms:ViaService'] = `dynamodb.${region}.amazonaws.com`;
  if (action === 'kms:CreateGrant' || action === 'kms:RevokeGrant') context['kms:GrantIsForAWSResource'] = 'true';
  return context;
}

async function verdicts(
  target: KeyUnderAttack, principal: string, actions: string[], identityPolicies = KMS_STAR, context: ContextValues = {},
): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const action of actions) {
    result[action] = await target.sim.simulate({
      principalArn: principal, action, resourceArn: target.keyArn, identityPolicies, context: { ...favourable(target.region, action), ...context },
    });
  }
  return result;
}
const all = (actions: string[], decision: string) => Object.fromEntries(actions.map(a => [a, decision]));

describe.each(Object.keys(HOMES))('%s', (home) => {
  describe.each([DataClassification.CONFIDENTIAL, DataClassification.RESTRICTED])('%s', (classification) => {
    let target: KeyUnderAttack;
    beforeAll(() => {
      target = HOMES[home](classification);
    });

    test('an IAM principal with kms:* cannot destroy, disable, re-point, re-tag or rewrite the key (path 2)', async () => {
      const decisions = await verdicts(target, KMS_STAR_PRINCIPAL, TAKEOVER);
      expect(Object.entries(decisions).filter(([, d]) => d === 'Allowed')).toEqual([]);
    });

    test('an IAM principal with kms:* cannot use the key', async () => {
      const decisions = await verdicts(target, KMS_STAR_PRINCIPAL, CRYPTOGRAPHY);
      expect(Object.entries(decisions).filter(([, d]) => d === 'Allowed')).toEqual([]);
    });

    test('the deploy role and the account\'s root user still can, so the key is never locked out', async () => {
      const lifecycle = ['kms:ScheduleKeyDeletion', 'kms:PutKeyPolicy', 'kms:TagResource'];
      for (const manager of target.managers) {
        expect([manager, await verdicts(target, manager, lifecycle)]).toEqual([manager, all(lifecycle, 'Allowed')]);
      }
      if (target.handlerArn) {
        // With the handler's own policy from the template, which holds it to keys of CloudHSM origin.
        const written = ['kms:PutKeyPolicy', 'kms:TagResource', 'kms:UntagResource', 'kms:UpdateKeyDescription', 'kms:ScheduleKeyDeletion'];
        expect(await verdicts(target, target.handlerArn, written, [], { 'kms:KeyOrigin': 'AWS_CLOUDHSM' })).toEqual(all(written, 'Allowed'));
      }
    });
  });
});
