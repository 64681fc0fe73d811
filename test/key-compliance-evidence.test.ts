import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as logs from 'aws-cdk-lib/aws-logs';
import { ClassifiedKey, DataClassification, KeyAuditTrail, KeyComplianceEvidence, KeyEventsDestination } from '../src';
import { eventBridgeEvent, kmsEvent } from './support/cloudtrail';
import { matchesEventPattern } from './support/event-pattern';
import { ACCOUNT, newBareStack, newStack, REGION } from './support/stack';
import { EVIDENCE_QUERIES } from '../src/evidence/evidence-queries';

const SIEM_BUS = `arn:aws:events:${REGION}:222222222222:event-bus/security-siem`;

function keyIn(stack: Stack, id: string, classification = DataClassification.CONFIDENTIAL): ClassifiedKey {
  return new ClassifiedKey(stack, id, { classification, alias: `alias/test/${id.toLowerCase()}` });
}

function queries(template: Template): Record<string, any> {
  return Object.fromEntries(Object.values(template.findResources('AWS::Logs::QueryDefinition')).map(r => [r.Properties.Name, r.Properties]));
}

describe('saved queries', () => {
  test('the account queries and one usage query per key of the stack, on the trail the stack creates', () => {
    const stack = newBareStack('Payments');
    const evidence = new KeyComplianceEvidence(stack, 'Evidence');
    // Declared after the evidence: covered all the same.
    const key = keyIn(stack, 'Ledger');
    const template = Template.fromStack(stack);
    const saved = queries(template);
    // The audit key is a ClassifiedKey of the stack too, with its derived alias.
    const auditAlias = (KeyAuditTrail.of(stack).auditKey!.alias.node.defaultChild as any).aliasName.replace(/^alias\//, '');
    expect(Object.keys(saved).sort()).toEqual([
      ...EVIDENCE_QUERIES.map(q => `kms-key-evidence/Payments/${q.name}`),
      'kms-key-evidence/Payments/key-usage/test/ledger',
      `kms-key-evidence/Payments/key-usage/${auditAlias}`,
    ].sort());
    for (const query of Object.values(saved)) {
      // The stack's own trail log group, by reference.
      expect(query.LogGroupNames).toEqual([{ Ref: stack.getLogicalId(KeyAuditTrail.of(stack).trailLogGroup!.node.defaultChild as any) }]);
      expect(query.QueryLanguage).toBe('CWLI');
    }
    const usage = JSON.stringify(saved['kms-key-evidence/Payments/key-usage/test/ledger'].QueryString);
    expect(usage).toContain(stack.getLogicalId(key.node.defaultChild as any));
    expect(evidence.coveredKeys).toContain(key);
    expect(evidence.queryDefinitions).toHaveLength(EVIDENCE_QUERIES.length + 2);
  });

  test('on an existing trail log group the stack names', () => {
    const stack = newStack('Payments');
    new KeyComplianceEvidence(stack, 'Evidence', { queryFolder: 'audit/kms' });
    keyIn(stack, 'Ledger');
    const saved = queries(Template.fromStack(stack));
    expect(saved['audit/kms/key-usage'].LogGroupNames).toEqual(['org-trail']);
  });

  test('by name, on the trail another stack of the account and Region creates, with no reference between them', () => {
    const app = new App();
    const env = { account: ACCOUNT, region: REGION };
    const first = new Stack(app, 'A', { env });
    keyIn(first, 'Ledger');
    const second = new Stack(app, 'B', { env });
    keyIn(second, 'Orders');
    new KeyComplianceEvidence(second, 'Evidence', { configRules: false });
    const template = Template.fromStack(second);
    const saved = queries(template);
    expect(saved['kms-key-evidence/B/key-usage'].LogGroupNames).toEqual([`/aws/cloudtrail/${(KeyAuditTrail.of(first) as any)._trailName}`]);
    expect(JSON.stringify(template.toJSON())).not.toContain('Fn::ImportValue');
  });

  test('refused where the account\'s trail is in another Region, unless savedQueries is false', () => {
    const app = new App();
    keyIn(new Stack(app, 'Home', { env: { account: ACCOUNT, region: 'eu-west-1' } }), 'Ledger');
    const away = new Stack(app, 'Away', { env: { account: ACCOUNT, region: 'us-east-1' } });
    keyIn(away, 'Orders');
    new KeyComplianceEvidence(away, 'Evidence');
    expect(() => app.synth()).toThrow(/CloudTrail log group, which is in Home \(eu-west-1\), not in Away's account and Region: .*savedQueries: false/);

    const app2 = new App();
    keyIn(new Stack(app2, 'Home', { env: { account: ACCOUNT, region: 'eu-west-1' } }), 'Ledger');
    const away2 = new Stack(app2, 'Away', { env: { account: ACCOUNT, region: 'us-east-1' } });
    keyIn(away2, 'Orders');
    new KeyComplianceEvidence(away2, 'Evidence', { savedQueries: false });
    const template = Template.fromStack(away2);
    template.resourceCountIs('AWS::Logs::QueryDefinition', 0);
    template.resourceCountIs('AWS::Config::ConfigRule', 3);
  });

  test('a folder that leaves no room for the names, or has an empty folder, is refused with its value', () => {
    const stack = newStack();
    expect(() => new KeyComplianceEvidence(stack, 'Evidence', { queryFolder: 'x'.repeat(240) }))
      .toThrow(/queryFolder must leave room for query names of at most 255 characters \(265 here\) and have no empty folder, got "x{240}"/);
    expect(() => new KeyComplianceEvidence(stack, 'Evidence2', { queryFolder: 'a//b' })).toThrow(/got "a\/\/b"/);
  });

  test('a key with a long alias, or one with a colon, gets a query of a valid name', () => {
    const stack = newStack();
    new ClassifiedKey(stack, 'Long', { classification: DataClassification.INTERNAL, alias: `alias/${'a'.repeat(240)}` });
    new ClassifiedKey(stack, 'Colon', { classification: DataClassification.INTERNAL, alias: 'alias/app:prod' });
    new KeyComplianceEvidence(stack, 'Evidence');
    const names = Object.keys(queries(Template.fromStack(stack)));
    expect(names).toContain('kms-key-evidence/TestStack/key-usage/app:prod');
    const long = names.find(n => n.startsWith('kms-key-evidence/TestStack/key-usage/aaa'))!;
    expect(long).toMatch(/^kms-key-evidence\/TestStack\/key-usage\/a+~[0-9a-f]{8}$/);
    expect(long).toHaveLength(255);
  });

  test('two evidences saving queries in one folder of a stack are refused', () => {
    const stack = newStack();
    keyIn(stack, 'Ledger');
    new KeyComplianceEvidence(stack, 'Evidence');
    new KeyComplianceEvidence(stack, 'Again', { configRules: false });
    expect(() => Template.fromStack(stack)).toThrow(/TestStack\/Evidence already saves its queries in kms-key-evidence\/TestStack: give this one another queryFolder, or savedQueries: false/);
  });

  test('an audit trail of another stack is refused', () => {
    const app = new App();
    const other = new Stack(app, 'Other', { env: { account: ACCOUNT, region: REGION } });
    const trail = new KeyAuditTrail(other, 'Trail', { existingLogGroup: logs.LogGroup.fromLogGroupName(other, 'L', 'org-trail') });
    const stack = new Stack(app, 'Mine', { env: { account: ACCOUNT, region: REGION } });
    expect(() => new KeyComplianceEvidence(stack, 'Evidence', { auditTrail: trail })).toThrow('auditTrail must be a KeyAuditTrail of stack Mine, got Other/Trail');
  });
});

describe('AWS Config rules', () => {
  test('rotation, deletion and public access, scoped to classified keys', () => {
    const stack = newStack();
    keyIn(stack, 'Ledger');
    new KeyComplianceEvidence(stack, 'Evidence');
    const rules = Template.fromStack(stack).findResources('AWS::Config::ConfigRule');
    const byIdentifier: Record<string, any> = Object.fromEntries(Object.values(rules).map(r => [r.Properties.Source.SourceIdentifier, r.Properties]));
    expect(Object.keys(byIdentifier).sort()).toEqual(['CMK_BACKING_KEY_ROTATION_ENABLED', 'KMS_CMK_NOT_SCHEDULED_FOR_DELETION', 'KMS_KEY_POLICY_NO_PUBLIC_ACCESS']);
    for (const rule of Object.values(byIdentifier)) {
      expect(rule.Scope).toEqual({ TagKey: 'data-classification' });
      expect(rule.Source.Owner).toBe('AWS');
    }
    expect(byIdentifier.CMK_BACKING_KEY_ROTATION_ENABLED.MaximumExecutionFrequency).toBe('TwentyFour_Hours');
  });

  test('configRules: false makes none', () => {
    const stack = newStack();
    keyIn(stack, 'Ledger');
    new KeyComplianceEvidence(stack, 'Evidence', { configRules: false });
    Template.fromStack(stack).resourceCountIs('AWS::Config::ConfigRule', 0);
  });

  test('a second set of rules in one account and Region is refused, naming the first', () => {
    const app = new App();
    const env = { account: ACCOUNT, region: REGION };
    const a = new Stack(app, 'A', { env });
    keyIn(a, 'Ledger');
    new KeyComplianceEvidence(a, 'Evidence');
    const b = new Stack(app, 'B', { env });
    keyIn(b, 'Orders');
    new KeyComplianceEvidence(b, 'Evidence', { savedQueries: false });
    expect(() => app.synth()).toThrow(/A\/Evidence already makes the Config rules of account 111111111111 in us-east-1 .*give configRules: false here/);
  });

  test('another Region has rules of its own', () => {
    const app = new App();
    for (const region of ['us-east-1', 'eu-west-1']) {
      const stack = new Stack(app, `S-${region}`, { env: { account: ACCOUNT, region } });
      keyIn(stack, 'Ledger');
      new KeyComplianceEvidence(stack, 'Evidence', { savedQueries: false });
    }
    expect(() => app.synth()).not.toThrow();
  });
});

describe('forwarding to a SIEM', () => {
  function forwarding(destination: (stack: Stack) => KeyEventsDestination) {
    const stack = newStack();
    const key = keyIn(stack, 'Ledger');
    const other = keyIn(stack, 'Orders');
    const evidence = new KeyComplianceEvidence(stack, 'Evidence', { forwardEventsTo: destination(stack) });
    const template = Template.fromStack(stack);
    const rule: any = template.toJSON().Resources[stack.getLogicalId(evidence.forwardingRule!.node.defaultChild as events.CfnRule)];
    return { stack, key, other, template, rule };
  }

  test('every KMS event naming a key of the stack, read-only calls included, to the SIEM bus', () => {
    const { stack, key, other, rule } = forwarding(s => KeyEventsDestination.eventBus(events.EventBus.fromEventBusArn(s, 'Siem', SIEM_BUS)));
    expect(rule.Properties.State).toBe('ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS');
    expect(rule.Properties.Targets).toEqual([expect.objectContaining({ Arn: SIEM_BUS, RoleArn: expect.anything() })]);
    // EventBridge delivers as a role of the rule's own, allowed only to put events to the bus.
    const template = Template.fromStack(stack);
    const roleId = rule.Properties.Targets[0].RoleArn['Fn::GetAtt'][0];
    expect(template.toJSON().Resources[roleId].Properties.AssumeRolePolicyDocument.Statement).toEqual([expect.objectContaining({
      Principal: { Service: 'events.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } },
    })]);
    const policies = Object.values(template.findResources('AWS::IAM::ManagedPolicy'))
      .filter(p => JSON.stringify(p.Properties.Roles ?? []).includes(roleId));
    expect(policies.map(p => p.Properties.PolicyDocument.Statement)).toEqual([[{ Action: 'events:PutEvents', Effect: 'Allow', Resource: SIEM_BUS }]]);
    template.resourcePropertiesCountIs('AWS::IAM::Policy', { Roles: [{ Ref: roleId }] }, 0);
    // The pattern, with the keys' ARNs as they will be, matches their events and no other key's.
    const arnOf = (k: ClassifiedKey) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${stack.getLogicalId(k.node.defaultChild as any)}`;
    const pattern = JSON.parse(JSON.stringify(rule.Properties.EventPattern), (_, v) =>
      (v && typeof v === 'object' && v['Fn::GetAtt'] ? `arn:aws:kms:${REGION}:${ACCOUNT}:key/${v['Fn::GetAtt'][0]}` : v));
    const event = (name: string, arn: string, fields = {}) => eventBridgeEvent(kmsEvent(name, {
      resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: arn }], ...fields,
    }));
    for (const k of [key, other]) {
      expect(matchesEventPattern(pattern, event('Decrypt', arnOf(k), { readOnly: true }))).toBe(true);
      expect(matchesEventPattern(pattern, event('PutKeyPolicy', arnOf(k)))).toBe(true);
      expect(matchesEventPattern(pattern, event('Decrypt', arnOf(k), { errorCode: 'AccessDenied' }))).toBe(true);
    }
    expect(matchesEventPattern(pattern, event('Decrypt', `arn:aws:kms:${REGION}:${ACCOUNT}:key/another-key`))).toBe(false);
    // KMS's automatic rotation is an AWS service event.
    const rotation = { ...event('RotateKey', arnOf(key)), 'detail-type': 'AWS Service Event via CloudTrail' };
    expect(matchesEventPattern(pattern, rotation)).toBe(true);
  });

  test('or to a Firehose stream', () => {
    const { rule, template } = forwarding(s => KeyEventsDestination.deliveryStream(
      firehose.DeliveryStream.fromDeliveryStreamName(s, 'Stream', 'siem-ingest')));
    expect(JSON.stringify(rule.Properties.Targets[0].Arn)).toContain('deliverystream/siem-ingest');
    expect(JSON.stringify(template.findResources('AWS::IAM::ManagedPolicy'))).toContain('"Action":["firehose:PutRecord","firehose:PutRecordBatch"]');
  });
});
