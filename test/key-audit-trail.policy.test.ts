/**
 * Policy-evaluation tests of the audit key of a KeyAuditTrail: every claim is proven
 * by evaluating the synthesized key policy, identity policies and trust policies with
 * the policy simulator (test/support/policy-sim.ts), never by matching JSON.
 *
 * The stack is a bare stack in 111111111111 / us-east-1 with one CONFIDENTIAL
 * ClassifiedKey, whose first use creates the stack's full audit trail: the account's
 * trail and its encrypted log group, the watch (an EventBridge rule delivering to an
 * encrypted events log group, and a heartbeat schedule describing the audit key as its
 * own role), an encrypted alarm topic, and the audit key that encrypts them.
 *
 * Denials are asked with the most favourable context an honest request could carry
 * (the right service, the right encryption context, MFA), so that a denial never holds
 * only because a context key is missing. iam-simulate matches service principals
 * exactly, so each AWS service is asked under the principal the key policy must name.
 */
import { CfnElement, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { IConstruct } from 'constructs';
import { ClassifiedKey, DataClassification, KeyAuditTrail } from '../src';
import { ContextValues, PolicyDocument, PolicySimulator } from './support/policy-sim';
import { ACCOUNT, newBareStack, OTHER_ACCOUNT, REGION } from './support/stack';

// -----------------------------------------------------------------------------
// The names the claims are about, written out rather than read from src/
// -----------------------------------------------------------------------------

/** The default trail name: `<stack name>-key-audit`. */
const TRAIL_NAME = 'TestStack-key-audit';
const TRAIL_ARN = `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/${TRAIL_NAME}`;
/** The log group's ARN as CloudWatch Logs puts it in the encryption context: no `:*`. */
const LOG_GROUP_ARN = `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/cloudtrail/${TRAIL_NAME}`;
/**
 * The log group as a resource of log-group actions (FilterLogEvents, StartQuery...): the
 * `:*` form of the log group's Arn attribute. iam-simulate takes it as a pattern and
 * evaluates the policy resources that overlap it; the allows asserted here come from
 * policies that name exactly this pattern (or `*`), so they hold for the whole log group.
 */
const LOG_GROUP_RESOURCE = `${LOG_GROUP_ARN}:*`;
/** A log stream CloudTrail writes to, the resource of GetLogEvents and PutLogEvents. */
const LOG_STREAM_ARN = `${LOG_GROUP_ARN}:log-stream:${ACCOUNT}_CloudTrail_${REGION}`;
/** Another log group of the same account, and a stream of it. */
const OTHER_LOG_GROUP_ARN = `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/payments`;
const OTHER_LOG_STREAM_ARN = `${OTHER_LOG_GROUP_ARN}:log-stream:2024/01/01/[$LATEST]abc`;

/** The watch's log group, `/aws/events/kms-key-audit/<stack name>`, as in the encryption context. */
const EVENTS_LOG_GROUP_ARN = `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/events/kms-key-audit/TestStack`;
/** A log stream EventBridge writes to in the watch's log group. */
const EVENTS_LOG_STREAM_ARN = `${EVENTS_LOG_GROUP_ARN}:log-stream:0f3b4c1e-5a6d-4e7f-8a9b-0c1d2e3f4a5b`;
/** The heartbeat's schedule, of the fixed name `<stack name>-kms-audit-heartbeat`, in its own group `<stack name>-kms-audit`. */
const SCHEDULE_NAME = 'TestStack-kms-audit-heartbeat';
const SCHEDULE_ARN = `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/TestStack-kms-audit/${SCHEDULE_NAME}`;

const CLOUDTRAIL = 'cloudtrail.amazonaws.com';
const LOGS = `logs.${REGION}.amazonaws.com`;
const CLOUDWATCH = 'cloudwatch.amazonaws.com';
const EVENTS = 'events.amazonaws.com';
const LOG_DELIVERY = 'delivery.logs.amazonaws.com';
const SCHEDULER = 'scheduler.amazonaws.com';

const VIA_S3 = `s3.${REGION}.amazonaws.com`;
const VIA_LOGS = LOGS;

/** An IAM principal of the key's account whose own policy allows kms:*, logs:* and s3:* on everything. */
const KMS_STAR_ADMIN = `arn:aws:iam::${ACCOUNT}:role/KmsStarAdmin`;
/** A principal of another account, with the same policy in its own account. */
const ATTACKER = `arn:aws:iam::${OTHER_ACCOUNT}:role/Attacker`;
/** A human of the key's account. */
const ALICE = `arn:aws:iam::${ACCOUNT}:user/alice`;
const STAR_POLICIES: PolicyDocument[] = [PolicySimulator.allowPolicy(['kms:*', 'logs:*', 's3:*'])];

const CLOUDTRAIL_CONTEXT = 'kms:EncryptionContext:aws:cloudtrail:arn';
const LOGS_CONTEXT = 'kms:EncryptionContext:aws:logs:arn';
const WITH_MFA: ContextValues = { 'aws:MultiFactorAuthPresent': 'true' };

/** What CloudTrail sends when it encrypts this trail's files. */
const TRAIL_REQUEST: ContextValues = { 'aws:SourceArn': TRAIL_ARN, [CLOUDTRAIL_CONTEXT]: TRAIL_ARN };
/**
 * The actions `kms:GenerateDataKey*` matches, which AWS documents for CloudTrail and for the
 * services that publish to an encrypted SNS topic: CloudTrail calls kms:GenerateDataKey.
 */
const GENERATE_DATA_KEY_STAR = [
  'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:GenerateDataKeyPair', 'kms:GenerateDataKeyPairWithoutPlaintext',
];
/** What CloudWatch Logs sends when it encrypts or reads this log group. */
const LOG_GROUP_REQUEST: ContextValues = { [LOGS_CONTEXT]: LOG_GROUP_ARN };
/** What a CloudWatch alarm of this account sends when it publishes to the encrypted topic. */
const ALARM_REQUEST: ContextValues = {
  'aws:SourceAccount': ACCOUNT,
  'aws:SourceArn': `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:SomeAlarm`,
};

const LOG_READS = ['logs:DescribeLogStreams', 'logs:FilterLogEvents', 'logs:StartQuery', 'logs:GetLogEvents'];

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

type Verdict = 'allowed' | 'denied';

/** One authorization question; the audit key is the resource unless another is given. */
interface Ask {
  readonly principal: string;
  readonly action: string;
  readonly context?: ContextValues;
  readonly resource?: string;
  readonly identityPolicies?: PolicyDocument[];
  readonly includeTemplateIdentityPolicies?: boolean;
  /** The resource policy, when the template's (key, trust, bucket policy...) is not the one. */
  readonly resourcePolicy?: PolicyDocument | null;
}

/** A synthesized stack with a full audit trail, ready to be simulated. */
interface Fixture {
  readonly stack: Stack;
  readonly trail: KeyAuditTrail;
  readonly sim: PolicySimulator;
  readonly auditKeyArn: string;
  /** Answers each named question, so that a failing comparison names the odd one. */
  verdicts(asks: Record<string, Ask>): Promise<Record<string, Verdict>>;
  /** The logical id of a construct's CloudFormation resource. */
  logicalId(construct: IConstruct): string;
  /** The ARN of a role of the template. */
  roleArn(role: IConstruct): string;
}

function fixture(stack: Stack, trail: KeyAuditTrail): Fixture {
  const sim = PolicySimulator.fromStack(stack);
  const logicalId = (construct: IConstruct) => stack.getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);
  const auditKeyArn = sim.keyArn(logicalId(trail.auditKey!));
  return {
    stack,
    trail,
    sim,
    auditKeyArn,
    logicalId,
    roleArn: (role) => sim.roleArn(logicalId(role)),
    async verdicts(asks) {
      const result: Record<string, Verdict> = {};
      for (const [name, ask] of Object.entries(asks)) {
        const decision = await sim.simulate({
          principalArn: ask.principal,
          action: ask.action,
          resourceArn: ask.resource ?? auditKeyArn,
          context: ask.context,
          identityPolicies: ask.identityPolicies,
          includeTemplateIdentityPolicies: ask.includeTemplateIdentityPolicies,
          resourcePolicy: ask.resourcePolicy,
        });
        result[name] = decision === 'Allowed' ? 'allowed' : 'denied';
      }
      return result;
    },
  };
}

/** A bare stack whose one CONFIDENTIAL key creates the stack's audit trail. */
function synthesizeDefault(): Fixture {
  const stack = newBareStack();
  const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
  const trail = KeyAuditTrail.of(stack);
  expect(key.auditTrail).toBe(trail);
  return fixture(stack, trail);
}

/** The same verdict for every question. */
function every(asks: Record<string, Ask>, verdict: Verdict): Record<string, Verdict> {
  return Object.fromEntries(Object.keys(asks).map(name => [name, verdict]));
}

/** `context` without `key`. */
function without(context: ContextValues, key: string): ContextValues {
  return Object.fromEntries(Object.entries(context).filter(([k]) => k !== key));
}

/** Decrypting questions for a principal, in every context a request could honestly carry. */
function decryptAsks(principal: string, identityPolicies?: PolicyDocument[]): Record<string, Ask> {
  const contexts: Record<string, ContextValues> = {
    'directly': {},
    'through S3': { 'kms:ViaService': VIA_S3 },
    'through S3, a trail file': { 'kms:ViaService': VIA_S3, [CLOUDTRAIL_CONTEXT]: TRAIL_ARN },
    'through CloudWatch Logs, this log group': { 'kms:ViaService': VIA_LOGS, ...LOG_GROUP_REQUEST },
  };
  const asks: Record<string, Ask> = {};
  for (const [how, context] of Object.entries(contexts)) {
    for (const action of ['kms:Decrypt', 'kms:ReEncryptFrom']) {
      asks[`${action} ${how}`] = { principal, action, context: { ...context, ...WITH_MFA }, identityPolicies };
    }
  }
  asks['kms:CreateGrant for itself, through S3'] = {
    principal, action: 'kms:CreateGrant', context: { 'kms:ViaService': VIA_S3, ...WITH_MFA }, identityPolicies,
  };
  return asks;
}

// -----------------------------------------------------------------------------
// The audit key of the default trail
// -----------------------------------------------------------------------------

describe('the audit key of a KeyAuditTrail created by a CONFIDENTIAL key', () => {
  let fx: Fixture;
  beforeAll(() => {
    fx = synthesizeDefault();
  });

  test('the template names the trail and log groups the claims are about', () => {
    // The ARNs below are the ones the key policy must be about; check they are this stack's.
    // The trail and its log group are known once the app is synthesized (the fixture did).
    const trailId = fx.logicalId(fx.trail.trail!);
    const logGroupId = fx.logicalId(fx.trail.trailLogGroup!);
    expect(fx.sim.resolve({ 'Fn::GetAtt': [trailId, 'Arn'] })).toBe(TRAIL_ARN);
    expect(fx.sim.resolve({ 'Fn::GetAtt': [logGroupId, 'Arn'] })).toBe(LOG_GROUP_RESOURCE);
    expect(fx.sim.resolve({ 'Fn::GetAtt': [fx.logicalId(fx.trail.eventsLogGroup), 'Arn'] })).toBe(`${EVENTS_LOG_GROUP_ARN}:*`);
    expect(logGroupId).not.toBe(fx.logicalId(fx.trail.eventsLogGroup));
  });

  // ---------------------------------------------------------------------------
  // 1. CloudTrail
  // ---------------------------------------------------------------------------

  describe('CloudTrail', () => {
    test('may generate data keys for this trail, with a trail ARN of this account in the encryption context', async () => {
      const asks: Record<string, Ask> = {
        'this trail': { principal: CLOUDTRAIL, action: 'kms:GenerateDataKey', context: TRAIL_REQUEST },
        'this trail, context of a trail of this account in another region': {
          principal: CLOUDTRAIL,
          action: 'kms:GenerateDataKey',
          context: { ...TRAIL_REQUEST, [CLOUDTRAIL_CONTEXT]: `arn:aws:cloudtrail:eu-west-1:${ACCOUNT}:trail/${TRAIL_NAME}` },
        },
      };
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'allowed'));
    });

    test('may call every action kms:GenerateDataKey* matches, as AWS documents, for this trail only', async () => {
      // https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html
      // The key policy keeps the documented wildcard (CloudTrailEncryptsLogs), so it also
      // matches the data key pair actions, which CloudTrail does not call.
      const otherTrail = `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/other-trail`;
      const thisTrail: ContextValues = { ...TRAIL_REQUEST, 'aws:SourceAccount': ACCOUNT };
      const anotherTrail: ContextValues = { 'aws:SourceArn': otherTrail, 'aws:SourceAccount': ACCOUNT, [CLOUDTRAIL_CONTEXT]: otherTrail };
      const allowed = Object.fromEntries(GENERATE_DATA_KEY_STAR.map(action => [action, { principal: CLOUDTRAIL, action, context: thisTrail }]));
      const denied: Record<string, Ask> = {
        ...Object.fromEntries(GENERATE_DATA_KEY_STAR.map(action => [
          `${action}, another trail of this account`, { principal: CLOUDTRAIL, action, context: anotherTrail },
        ])),
        ...Object.fromEntries(GENERATE_DATA_KEY_STAR.map(action => [
          // The encryption context names this trail, the request comes from another.
          `${action}, another trail's aws:SourceArn`, { principal: CLOUDTRAIL, action, context: { ...thisTrail, 'aws:SourceArn': otherTrail } },
        ])),
      };
      expect(await fx.verdicts(allowed)).toEqual(every(allowed, 'allowed'));
      expect(await fx.verdicts(denied)).toEqual(every(denied, 'denied'));
    });

    test('is DENIED data keys for any other trail, or without the encryption context', async () => {
      const generate = (context: ContextValues): Ask => ({ principal: CLOUDTRAIL, action: 'kms:GenerateDataKey', context });
      const asks: Record<string, Ask> = {
        'a trail of another account with the same name': generate({
          'aws:SourceArn': `arn:aws:cloudtrail:${REGION}:${OTHER_ACCOUNT}:trail/${TRAIL_NAME}`,
          [CLOUDTRAIL_CONTEXT]: `arn:aws:cloudtrail:${REGION}:${OTHER_ACCOUNT}:trail/${TRAIL_NAME}`,
        }),
        'another trail of this account': generate({
          'aws:SourceArn': `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/other-trail`,
          [CLOUDTRAIL_CONTEXT]: `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/other-trail`,
        }),
        'this trail\'s name in another region': generate({
          'aws:SourceArn': `arn:aws:cloudtrail:eu-west-1:${ACCOUNT}:trail/${TRAIL_NAME}`,
          [CLOUDTRAIL_CONTEXT]: `arn:aws:cloudtrail:eu-west-1:${ACCOUNT}:trail/${TRAIL_NAME}`,
        }),
        'no aws:SourceArn': generate(without(TRAIL_REQUEST, 'aws:SourceArn')),
        'this trail, no encryption context': generate(without(TRAIL_REQUEST, CLOUDTRAIL_CONTEXT)),
        'this trail, encryption context of another account\'s trail': generate({
          ...TRAIL_REQUEST,
          [CLOUDTRAIL_CONTEXT]: `arn:aws:cloudtrail:${REGION}:${OTHER_ACCOUNT}:trail/${TRAIL_NAME}`,
        }),
        'this trail, encryption context of a log group': generate({ 'aws:SourceArn': TRAIL_ARN, [LOGS_CONTEXT]: LOG_GROUP_ARN }),
      };
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
    });

    test('is DENIED decryption and every other use, even for this trail', async () => {
      // Actions that take an encryption context get this trail's; the others cannot carry one.
      const withContext = ['kms:Decrypt', 'kms:Encrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'];
      const withoutContext = ['kms:CreateGrant', 'kms:PutKeyPolicy', 'kms:ScheduleKeyDeletion'];
      const asks: Record<string, Ask> = Object.fromEntries([
        ...withContext.map(action => [action, { principal: CLOUDTRAIL, action, context: TRAIL_REQUEST }]),
        ...withoutContext.map(action => [action, { principal: CLOUDTRAIL, action, context: { 'aws:SourceArn': TRAIL_ARN } }]),
      ]);
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
    });

    test('may describe the key for this trail only', async () => {
      const describe = (context: ContextValues): Ask => ({ principal: CLOUDTRAIL, action: 'kms:DescribeKey', context });
      expect(await fx.verdicts({
        'this trail': describe({ 'aws:SourceArn': TRAIL_ARN }),
        'another trail of this account': describe({ 'aws:SourceArn': `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/other-trail` }),
        'a trail of another account': describe({ 'aws:SourceArn': `arn:aws:cloudtrail:${REGION}:${OTHER_ACCOUNT}:trail/${TRAIL_NAME}` }),
        'no aws:SourceArn': describe({}),
      })).toEqual({
        'this trail': 'allowed',
        'another trail of this account': 'denied',
        'a trail of another account': 'denied',
        'no aws:SourceArn': 'denied',
      });
    });
  });

  // ---------------------------------------------------------------------------
  // 2. CloudWatch Logs
  // ---------------------------------------------------------------------------

  describe('CloudWatch Logs', () => {
    const USE = ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'];
    const asksWith = (principal: string, context: ContextValues): Record<string, Ask> =>
      Object.fromEntries(USE.map(action => [action, { principal, action, context }]));

    test('may encrypt, decrypt and generate data keys for this log group', async () => {
      const asks = asksWith(LOGS, LOG_GROUP_REQUEST);
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'allowed'));
    });

    test.each([
      ['for another log group of this account', LOGS, { [LOGS_CONTEXT]: OTHER_LOG_GROUP_ARN }],
      ['for a log group of the same name in another account', LOGS, { [LOGS_CONTEXT]: LOG_GROUP_ARN.replace(ACCOUNT, OTHER_ACCOUNT) }],
      ['without an encryption context', LOGS, {}],
      ['as CloudWatch Logs of another region, for this log group', 'logs.eu-west-1.amazonaws.com', LOG_GROUP_REQUEST],
    ])('is DENIED use %s', async (_name, principal, context) => {
      const asks = asksWith(principal, context);
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
    });
  });

  // ---------------------------------------------------------------------------
  // 3. CloudWatch alarms, publishing to the encrypted topic
  // ---------------------------------------------------------------------------

  describe('CloudWatch alarms', () => {
    test('of this account and region may decrypt and generate data keys', async () => {
      // SNS documents kms:Decrypt and kms:GenerateDataKey* for AWS services publishing to an
      // encrypted topic, and the key policy keeps the wildcard:
      // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
      const asks: Record<string, Ask> = Object.fromEntries(['kms:Decrypt', ...GENERATE_DATA_KEY_STAR].map(action => [
        action, { principal: CLOUDWATCH, action, context: ALARM_REQUEST },
      ]));
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'allowed'));
    });

    test('of another account, or another region, are DENIED', async () => {
      const otherAlarm = `arn:aws:cloudwatch:${REGION}:${OTHER_ACCOUNT}:alarm:SomeAlarm`;
      const cases: Record<string, ContextValues> = {
        'another account': { 'aws:SourceAccount': OTHER_ACCOUNT, 'aws:SourceArn': otherAlarm },
        'another account\'s alarm, claiming this account': { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': otherAlarm },
        'another account, claiming this account\'s alarm': { ...ALARM_REQUEST, 'aws:SourceAccount': OTHER_ACCOUNT },
        'an alarm of this account in another region': { ...ALARM_REQUEST, 'aws:SourceArn': `arn:aws:cloudwatch:eu-west-1:${ACCOUNT}:alarm:SomeAlarm` },
        'no aws:SourceArn': without(ALARM_REQUEST, 'aws:SourceArn'),
        'no aws:SourceAccount': without(ALARM_REQUEST, 'aws:SourceAccount'),
      };
      const asks: Record<string, Ask> = {};
      for (const [name, context] of Object.entries(cases)) {
        for (const action of ['kms:Decrypt', ...GENERATE_DATA_KEY_STAR]) {
          asks[`${name}: ${action}`] = { principal: CLOUDWATCH, action, context };
        }
      }
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
    });

    test('are DENIED encryption and re-encryption', async () => {
      const asks: Record<string, Ask> = {
        'kms:Encrypt': { principal: CLOUDWATCH, action: 'kms:Encrypt', context: ALARM_REQUEST },
        'kms:ReEncryptFrom': { principal: CLOUDWATCH, action: 'kms:ReEncryptFrom', context: ALARM_REQUEST },
      };
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
    });
  });

  test('EventBridge, which publishes nothing to the alarm topic here, is DENIED the audit key even for a rule of this account', async () => {
    // The watch's rule delivers to CloudWatch Logs, which encrypts with its own principal.
    const rule: ContextValues = { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': `arn:aws:events:${REGION}:${ACCOUNT}:rule/Nightly` };
    const asks: Record<string, Ask> = Object.fromEntries(['kms:Decrypt', 'kms:GenerateDataKey'].map(action => [
      action, { principal: EVENTS, action, context: rule },
    ]));
    expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
  });

  // ---------------------------------------------------------------------------
  // 3b. CloudWatch Logs, for the watch's events log group
  // ---------------------------------------------------------------------------

  describe('CloudWatch Logs, for the events log group of the watch', () => {
    const EVENTS_LOG_GROUP_REQUEST: ContextValues = { [LOGS_CONTEXT]: EVENTS_LOG_GROUP_ARN };

    test('may encrypt, decrypt and generate data keys for it', async () => {
      const asks: Record<string, Ask> = Object.fromEntries(['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'].map(action => [
        action, { principal: LOGS, action, context: EVENTS_LOG_GROUP_REQUEST },
      ]));
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'allowed'));
    });

    test('is DENIED for the events log group of the same name in another account', async () => {
      const asks: Record<string, Ask> = Object.fromEntries(['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'].map(action => [
        action, { principal: LOGS, action, context: { [LOGS_CONTEXT]: EVENTS_LOG_GROUP_ARN.replace(ACCOUNT, OTHER_ACCOUNT) } },
      ]));
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
    });
  });

  // ---------------------------------------------------------------------------
  // 4. Nobody else decrypts
  // ---------------------------------------------------------------------------

  describe('an IAM principal of this account with kms:*, logs:* and s3:* in its identity policy', () => {
    test('is DENIED decryption with the audit key, directly and through S3', async () => {
      const asks = decryptAsks(KMS_STAR_ADMIN, STAR_POLICIES);
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
    });

    test('caveat: still reads the CloudWatch Logs copy, which CloudWatch Logs decrypts for any caller IAM lets in', async () => {
      // The key guards the trail's files in S3 only: reading the log group takes no
      // kms:Decrypt of the caller, so logs:* is enough (see the report of this file).
      const asks: Record<string, Ask> = {
        'logs:GetLogEvents': { principal: KMS_STAR_ADMIN, action: 'logs:GetLogEvents', resource: LOG_STREAM_ARN, identityPolicies: STAR_POLICIES },
        'logs:FilterLogEvents': { principal: KMS_STAR_ADMIN, action: 'logs:FilterLogEvents', resource: LOG_GROUP_RESOURCE, identityPolicies: STAR_POLICIES },
      };
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'allowed'));
    });
  });

  test('a principal of another account is DENIED decryption, even with kms:* in its own account', async () => {
    const asks = decryptAsks(ATTACKER, STAR_POLICIES);
    expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
  });

  // ---------------------------------------------------------------------------
  // 5. The log reader role (the audit key's user role) and the admin role
  // ---------------------------------------------------------------------------

  describe('the log reader role (the audit key\'s user role)', () => {
    let reader: string;
    beforeAll(() => {
      reader = fx.roleArn(fx.trail.logReaderRole!);
      expect(fx.trail.logReaderRole).toBe(fx.trail.auditKey!.userRole);
    });

    test('may decrypt trail files through S3', async () => {
      const asks: Record<string, Ask> = {
        'through S3, a trail file': { principal: reader, action: 'kms:Decrypt', context: { 'kms:ViaService': VIA_S3, [CLOUDTRAIL_CONTEXT]: TRAIL_ARN } },
      };
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'allowed'));
    });

    test('is DENIED anything but files CloudTrail wrote (they carry its encryption context)', async () => {
      const asks: Record<string, Ask> = {
        'decrypt through S3 without the trail context': { principal: reader, action: 'kms:Decrypt', context: { 'kms:ViaService': VIA_S3 } },
        'decrypt through S3, an object S3 encrypted': {
          principal: reader, action: 'kms:Decrypt', context: { 'kms:ViaService': VIA_S3, 'kms:EncryptionContext:aws:s3:arn': 'arn:aws:s3:::other-bucket/x' },
        },
        'generate a data key through S3 without the trail context': { principal: reader, action: 'kms:GenerateDataKey', context: { 'kms:ViaService': VIA_S3 } },
      };
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
    });

    test('is DENIED decryption outside S3', async () => {
      const asks: Record<string, Ask> = {
        'directly': { principal: reader, action: 'kms:Decrypt', context: { [CLOUDTRAIL_CONTEXT]: TRAIL_ARN } },
        'through DynamoDB': { principal: reader, action: 'kms:Decrypt', context: { 'kms:ViaService': `dynamodb.${REGION}.amazonaws.com` } },
        'through S3 of another region': { principal: reader, action: 'kms:Decrypt', context: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } },
      };
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
    });

    test('may read the log group, by the managed policy the template attaches', async () => {
      const read = (action: string, includeTemplateIdentityPolicies?: boolean): Ask => ({
        principal: reader,
        action,
        resource: action === 'logs:GetLogEvents' ? LOG_STREAM_ARN : LOG_GROUP_RESOURCE,
        includeTemplateIdentityPolicies,
      });
      const withPolicy = Object.fromEntries(LOG_READS.map(action => [action, read(action)]));
      const withoutPolicy = Object.fromEntries(LOG_READS.map(action => [action, read(action, false)]));
      expect(await fx.verdicts(withPolicy)).toEqual(every(withPolicy, 'allowed'));
      // The allow comes from the template's identity policies, not from somewhere else.
      expect(await fx.verdicts(withoutPolicy)).toEqual(every(withoutPolicy, 'denied'));
    });

    test('is DENIED reading other log groups, and writing to this one', async () => {
      const asks: Record<string, Ask> = {
        'logs:GetLogEvents on another log group': { principal: reader, action: 'logs:GetLogEvents', resource: OTHER_LOG_STREAM_ARN },
        'logs:FilterLogEvents on another log group': { principal: reader, action: 'logs:FilterLogEvents', resource: `${OTHER_LOG_GROUP_ARN}:*` },
        'logs:PutLogEvents on this log group': { principal: reader, action: 'logs:PutLogEvents', resource: LOG_STREAM_ARN },
        'logs:DeleteLogGroup on this log group': { principal: reader, action: 'logs:DeleteLogGroup', resource: LOG_GROUP_RESOURCE },
      };
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
    });
  });

  test('the audit key\'s admin role is DENIED decryption', async () => {
    const asks = decryptAsks(fx.roleArn(fx.trail.auditKey!.adminRole));
    expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
  });

  // ---------------------------------------------------------------------------
  // 7. The role CloudTrail delivers to CloudWatch Logs with
  // ---------------------------------------------------------------------------

  describe('the trail\'s LogsRole', () => {
    let logsRoleId: string;
    beforeAll(() => {
      logsRoleId = fx.logicalId(fx.trail.node.findChild('LogsRole'));
    });

    test('may be assumed by CloudTrail for this trail only', async () => {
      const assume = (principal: string, context: ContextValues = {}) => fx.sim.canAssume(logsRoleId, principal, context);
      expect({
        'CloudTrail, this trail': await assume(CLOUDTRAIL, { 'aws:SourceArn': TRAIL_ARN }),
        'CloudTrail, another trail of this account': await assume(CLOUDTRAIL, { 'aws:SourceArn': `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/other-trail` }),
        'CloudTrail, a trail of another account': await assume(CLOUDTRAIL, { 'aws:SourceArn': `arn:aws:cloudtrail:${REGION}:${OTHER_ACCOUNT}:trail/${TRAIL_NAME}` }),
        'CloudTrail, no aws:SourceArn': await assume(CLOUDTRAIL),
        'CloudWatch Logs, this trail': await assume(LOGS, { 'aws:SourceArn': TRAIL_ARN }),
        'a user of this account': await assume(ALICE, WITH_MFA),
        'a principal of another account': await assume(ATTACKER, WITH_MFA),
      }).toEqual({
        'CloudTrail, this trail': true,
        'CloudTrail, another trail of this account': false,
        'CloudTrail, a trail of another account': false,
        'CloudTrail, no aws:SourceArn': false,
        'CloudWatch Logs, this trail': false,
        'a user of this account': false,
        'a principal of another account': false,
      });
    });

    test('may write to this log group only', async () => {
      const role = fx.sim.roleArn(logsRoleId);
      expect(await fx.verdicts({
        'logs:CreateLogStream, this log group': { principal: role, action: 'logs:CreateLogStream', resource: LOG_STREAM_ARN },
        'logs:PutLogEvents, this log group': { principal: role, action: 'logs:PutLogEvents', resource: LOG_STREAM_ARN },
        'logs:PutLogEvents, another log group': { principal: role, action: 'logs:PutLogEvents', resource: OTHER_LOG_STREAM_ARN },
        'logs:GetLogEvents, this log group': { principal: role, action: 'logs:GetLogEvents', resource: LOG_STREAM_ARN },
        'kms:Decrypt with the audit key': { principal: role, action: 'kms:Decrypt', context: LOG_GROUP_REQUEST },
      })).toEqual({
        'logs:CreateLogStream, this log group': 'allowed',
        'logs:PutLogEvents, this log group': 'allowed',
        'logs:PutLogEvents, another log group': 'denied',
        'logs:GetLogEvents, this log group': 'denied',
        'kms:Decrypt with the audit key': 'denied',
      });
    });
  });

  // ---------------------------------------------------------------------------
  // 8. The heartbeat: a schedule describing the heartbeat key as HeartbeatRole
  // ---------------------------------------------------------------------------

  describe('the heartbeat', () => {
    let roleId: string;
    let role: string;
    /** The role's session as EventBridge Scheduler calls KMS with it. */
    let session: string;
    let dataKeyArn: string;
    beforeAll(() => {
      roleId = fx.logicalId(fx.trail.node.findChild('HeartbeatRole'));
      role = fx.sim.roleArn(roleId);
      session = `${role.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/')}/2f1c0e9d8b7a6f5e4d3c2b1a09f8e7d6`;
      const dataKeys = fx.sim.logicalIdsOfType('AWS::KMS::Key').map(id => fx.sim.keyArn(id)).filter(arn => arn !== fx.auditKeyArn);
      expect(dataKeys).toHaveLength(1);
      dataKeyArn = dataKeys[0];
    });

    /** The heartbeat's call as AWS sees it: the role's session, of this account (kms:CallerAccount for KMS). */
    type CallOptions = { resource?: string; context?: ContextValues; includeTemplateIdentityPolicies?: boolean };
    const heartbeatCall = (action: string, options: CallOptions = {}): Ask => ({
      principal: session,
      action,
      resource: options.resource,
      context: { 'aws:PrincipalArn': role, ...(action.startsWith('kms:') ? { 'kms:CallerAccount': ACCOUNT } : {}), ...options.context },
      includeTemplateIdentityPolicies: options.includeTemplateIdentityPolicies,
    });

    test('the schedule describes the audit key, as HeartbeatRole, under its fixed name', () => {
      const schedule = fx.trail.node.findChild('Heartbeat') as scheduler.CfnSchedule;
      const props = fx.sim.resolve(fx.stack.resolve({
        name: schedule.name, target: schedule.target,
      })) as { name: string; target: { arn: string; roleArn: string; input: string } };
      expect(props.name).toBe(SCHEDULE_NAME);
      expect(props.target.arn).toBe('arn:aws:scheduler:::aws-sdk:kms:describeKey');
      expect(props.target.roleArn).toBe(role);
      expect(JSON.parse(props.target.input)).toEqual({ KeyId: fx.auditKeyArn });
    });

    test('HeartbeatRole may describe the heartbeat key, by its identity policy and the key policy together', async () => {
      expect(await fx.verdicts({
        'with the template\'s identity policies': heartbeatCall('kms:DescribeKey'),
        // The key policy delegates DescribeKey to the account's IAM: without HeartbeatPolicy, nothing allows it.
        'without them': heartbeatCall('kms:DescribeKey', { includeTemplateIdentityPolicies: false }),
      })).toEqual({
        'with the template\'s identity policies': 'allowed',
        'without them': 'denied',
      });
    });

    test('HeartbeatRole is DENIED anything else, on the heartbeat key or another', async () => {
      const asks: Record<string, Ask> = {
        'kms:Decrypt': heartbeatCall('kms:Decrypt'),
        'kms:Decrypt, the events log group\'s context': heartbeatCall('kms:Decrypt', { context: { [LOGS_CONTEXT]: EVENTS_LOG_GROUP_ARN } }),
        'kms:GenerateDataKey': heartbeatCall('kms:GenerateDataKey'),
        'kms:Encrypt': heartbeatCall('kms:Encrypt'),
        'kms:CreateGrant': heartbeatCall('kms:CreateGrant'),
        'kms:PutKeyPolicy': heartbeatCall('kms:PutKeyPolicy'),
        'kms:ScheduleKeyDeletion': heartbeatCall('kms:ScheduleKeyDeletion'),
        'kms:DisableKey': heartbeatCall('kms:DisableKey'),
        // The key policy delegates reading the key's settings to the account; the role's policy does not take it up.
        'kms:GetKeyPolicy': heartbeatCall('kms:GetKeyPolicy'),
        'kms:DescribeKey on the stack\'s data key': heartbeatCall('kms:DescribeKey', { resource: dataKeyArn }),
        'kms:DescribeKey on a key of another account': heartbeatCall('kms:DescribeKey', {
          resource: `arn:aws:kms:${REGION}:${OTHER_ACCOUNT}:key/0b3c5d7e-1f2a-4b3c-8d4e-5f6a7b8c9d0e`,
        }),
        'logs:PutLogEvents to the events log group': heartbeatCall('logs:PutLogEvents', { resource: EVENTS_LOG_STREAM_ARN }),
      };
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
    });

    /**
     * When EventBridge Scheduler assumes a schedule's execution role, aws:SourceArn is the ARN
     * of the schedule's group, never the schedule's: AWS says not to scope the trust to a
     * schedule. https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html
     * (aws-cdk-lib's aws-scheduler-targets trusts the group ARN likewise.)
     */
    const scheduleGroupArn = (): string => {
      const schedule = fx.trail.node.findChild('Heartbeat') as scheduler.CfnSchedule;
      const group = fx.sim.resolve(fx.stack.resolve(schedule.groupName)) as string | undefined;
      return `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule-group/${group ?? 'default'}`;
    };

    test('HeartbeatRole\'s trust admits no schedule of another account or group, and no other principal', async () => {
      const assume = (principal: string, context: ContextValues = {}) => fx.sim.canAssume(roleId, principal, context);
      const group = scheduleGroupArn();
      const asScheduler: ContextValues = { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': group };
      const verdicts = {
        'Scheduler, the default schedule group of this account': await assume(SCHEDULER, {
          ...asScheduler, 'aws:SourceArn': `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule-group/default`,
        }),
        'Scheduler, another schedule group of this account': await assume(SCHEDULER, {
          ...asScheduler, 'aws:SourceArn': `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule-group/other-group`,
        }),
        'Scheduler, the same group in another account': await assume(SCHEDULER, {
          'aws:SourceAccount': OTHER_ACCOUNT, 'aws:SourceArn': group.replace(ACCOUNT, OTHER_ACCOUNT),
        }),
        'Scheduler, the same schedule in another account': await assume(SCHEDULER, {
          'aws:SourceAccount': OTHER_ACCOUNT, 'aws:SourceArn': SCHEDULE_ARN.replace(ACCOUNT, OTHER_ACCOUNT),
        }),
        'Scheduler, this schedule, another account': await assume(SCHEDULER, { 'aws:SourceAccount': OTHER_ACCOUNT, 'aws:SourceArn': SCHEDULE_ARN }),
        'Scheduler, this schedule\'s name in another region': await assume(SCHEDULER, {
          'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': SCHEDULE_ARN.replace(REGION, 'eu-west-1'),
        }),
        'Scheduler, no aws:SourceArn': await assume(SCHEDULER, { 'aws:SourceAccount': ACCOUNT }),
        'Scheduler, no aws:SourceAccount': await assume(SCHEDULER, { 'aws:SourceArn': SCHEDULE_ARN }),
        'EventBridge, this schedule': await assume(EVENTS, { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': SCHEDULE_ARN }),
        'EventBridge, this group': await assume(EVENTS, asScheduler),
        'a user of this account': await assume(ALICE, WITH_MFA),
        'a principal of another account': await assume(ATTACKER, WITH_MFA),
      };
      expect(verdicts).toEqual(Object.fromEntries(Object.keys(verdicts).map(name => [name, false])));
    });

    // Scheduler sends the schedule's group as aws:SourceArn, never the schedule: the trust
    // names the heartbeat's own group.
    // https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html
    test('EventBridge Scheduler may assume HeartbeatRole with the context it sends: this account, the schedule\'s group', async () => {
      expect(await fx.sim.canAssume(roleId, SCHEDULER, { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': scheduleGroupArn() })).toBe(true);
    });
  });

  // ---------------------------------------------------------------------------
  // 9. The events log group's resource policy: EventBridge delivers the rule's events
  // ---------------------------------------------------------------------------

  describe('the resource policy of the events log group', () => {
    /** The account-level CloudWatch Logs resource policy, a JSON string in the template, parsed. */
    let policy: PolicyDocument;
    let ruleArn: string;
    beforeAll(() => {
      const cfn = fx.trail.node.findChild('EventsLogGroupPolicy') as logs.CfnResourcePolicy;
      policy = JSON.parse(fx.sim.resolve(fx.stack.resolve(cfn.policyDocument)) as string) as PolicyDocument;
      ruleArn = fx.sim.resolve({ 'Fn::GetAtt': [fx.logicalId(fx.trail.node.findChild('EventsRule')), 'Arn'] }) as string;
    });

    /** EventBridge (or another service) delivering a rule's events, as CloudWatch Logs evaluates it. */
    const deliver = (principal: string, action: string, resource: string, context: ContextValues): Ask => ({
      principal, action, resource, context, resourcePolicy: policy,
    });
    const fromRule = (arn: string, account = ACCOUNT): ContextValues => ({ 'aws:SourceArn': arn, 'aws:SourceAccount': account });

    test('the watch\'s rule delivers to the events log group', () => {
      const rule = fx.trail.node.findChild('EventsRule') as events.CfnRule;
      const targets = fx.sim.resolve(fx.stack.resolve(rule.targets)) as Array<{ arn: string }>;
      expect(targets.map(t => t.arn)).toEqual([EVENTS_LOG_GROUP_ARN]);
      expect(ruleArn).toMatch(new RegExp(`^arn:aws:events:${REGION}:${ACCOUNT}:rule/`));
    });

    test('EventBridge may create streams and put events in the events log group, for the watch\'s rule', async () => {
      const asks: Record<string, Ask> = {
        'logs:CreateLogStream': deliver(EVENTS, 'logs:CreateLogStream', EVENTS_LOG_STREAM_ARN, fromRule(ruleArn)),
        'logs:PutLogEvents': deliver(EVENTS, 'logs:PutLogEvents', EVENTS_LOG_STREAM_ARN, fromRule(ruleArn)),
        'logs:PutLogEvents, as CloudWatch Logs delivery': deliver(LOG_DELIVERY, 'logs:PutLogEvents', EVENTS_LOG_STREAM_ARN, fromRule(ruleArn)),
      };
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'allowed'));
    });

    test('EventBridge is DENIED for another rule, another account, another log group or another action', async () => {
      const put = (context: ContextValues, resource = EVENTS_LOG_STREAM_ARN, principal = EVENTS) =>
        deliver(principal, 'logs:PutLogEvents', resource, context);
      const asks: Record<string, Ask> = {
        'another rule of this account': put(fromRule(`arn:aws:events:${REGION}:${ACCOUNT}:rule/other-rule`)),
        'the same rule of another account': put(fromRule(ruleArn.replace(ACCOUNT, OTHER_ACCOUNT), OTHER_ACCOUNT)),
        'this rule, another account': put(fromRule(ruleArn, OTHER_ACCOUNT)),
        'this rule\'s name in another region': put(fromRule(ruleArn.replace(REGION, 'eu-west-1'))),
        'no aws:SourceArn': put(without(fromRule(ruleArn), 'aws:SourceArn')),
        'no aws:SourceAccount': put(without(fromRule(ruleArn), 'aws:SourceAccount')),
        'this rule, the trail\'s log group': put(fromRule(ruleArn), LOG_STREAM_ARN),
        'this rule, another log group': put(fromRule(ruleArn), OTHER_LOG_STREAM_ARN),
        'this rule, as another service': put(fromRule(ruleArn), EVENTS_LOG_STREAM_ARN, CLOUDTRAIL),
        'logs:GetLogEvents': deliver(EVENTS, 'logs:GetLogEvents', EVENTS_LOG_STREAM_ARN, fromRule(ruleArn)),
        'logs:DeleteLogGroup': deliver(EVENTS, 'logs:DeleteLogGroup', `${EVENTS_LOG_GROUP_ARN}:*`, fromRule(ruleArn)),
      };
      expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
    });
  });
});

// -----------------------------------------------------------------------------
// 6. logReaders
// -----------------------------------------------------------------------------

describe('a KeyAuditTrail declared with logReaders', () => {
  let fx: Fixture;
  let auditor: iam.Role;
  let bystander: iam.Role;
  beforeAll(() => {
    const stack = newBareStack();
    auditor = new iam.Role(stack, 'Auditor', { assumedBy: new iam.AccountRootPrincipal() });
    bystander = new iam.Role(stack, 'Bystander', { assumedBy: new iam.AccountRootPrincipal() });
    const trail = new KeyAuditTrail(stack, 'Audit', { logReaders: [auditor] });
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    expect(key.auditTrail).toBe(trail);
    expect(KeyAuditTrail.of(stack)).toBe(trail);
    fx = fixture(stack, trail);
  });

  test('the named reader may read the log group', async () => {
    const asks: Record<string, Ask> = Object.fromEntries(LOG_READS.map(action => [action, {
      principal: fx.roleArn(auditor),
      action,
      resource: action === 'logs:GetLogEvents' ? LOG_STREAM_ARN : LOG_GROUP_RESOURCE,
    }]));
    expect(await fx.verdicts(asks)).toEqual(every(asks, 'allowed'));
  });

  test('the named reader may not read other log groups, nor decrypt with the audit key', async () => {
    const auditorArn = fx.roleArn(auditor);
    const asks: Record<string, Ask> = {
      'logs:GetLogEvents on another log group': { principal: auditorArn, action: 'logs:GetLogEvents', resource: OTHER_LOG_STREAM_ARN },
      ...decryptAsks(auditorArn),
    };
    expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
  });

  test('a role not named is DENIED reading the log group', async () => {
    const asks: Record<string, Ask> = Object.fromEntries(LOG_READS.map(action => [action, {
      principal: fx.roleArn(bystander),
      action,
      resource: action === 'logs:GetLogEvents' ? LOG_STREAM_ARN : LOG_GROUP_RESOURCE,
    }]));
    expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
  });

});

describe('the access-log bucket of a created trail', () => {
  // S3 server access logs are delivered by logging.s3.amazonaws.com, authorized by the
  // target bucket's policy with aws:SourceArn and aws:SourceAccount:
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html#grant-log-delivery-permissions-general
  let fx: Fixture;
  let trailBucketArn: string;
  let logObjectArn: string;
  beforeAll(() => {
    fx = synthesizeDefault();
    trailBucketArn = `arn:aws:s3:::${fx.sim.resolve({ Ref: fx.logicalId(fx.trail.bucket!) })}`;
    logObjectArn = `arn:aws:s3:::${fx.sim.resolve({ Ref: fx.logicalId(fx.trail.accessLogsBucket!) })}/TestStack-key-audit/2026-11-29-08-00-00-ABCDEF`;
  });

  const delivery = (sourceArn: string, sourceAccount: string): Ask => ({
    principal: 'logging.s3.amazonaws.com',
    action: 's3:PutObject',
    resource: logObjectArn,
    context: { 'aws:SourceArn': sourceArn, 'aws:SourceAccount': sourceAccount, 'aws:SecureTransport': 'true' },
  });

  test('S3 may deliver the trail bucket\'s access logs', async () => {
    expect(await fx.verdicts({ 'from the trail bucket': delivery(trailBucketArn, ACCOUNT) })).toEqual({ 'from the trail bucket': 'allowed' });
  });

  test('S3 may not deliver another bucket\'s logs, nor another account\'s', async () => {
    const asks: Record<string, Ask> = {
      'from another bucket of the account': delivery('arn:aws:s3:::someone-elses-bucket', ACCOUNT),
      'from another account': delivery(trailBucketArn, OTHER_ACCOUNT),
    };
    expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
  });
});

describe('an EventBridge rule publishing to the alarm topic', () => {
  // The audit key learns the topic's publishers as any ClassifiedKey: EventBridge gets
  // kms:Decrypt and kms:GenerateDataKey* for the rules of this account and Region.
  // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
  let fx: Fixture;
  beforeAll(() => {
    const stack = newBareStack();
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    const trail = KeyAuditTrail.of(stack);
    new events.Rule(stack, 'Nightly', {
      schedule: events.Schedule.rate(Duration.days(1)),
      targets: [new eventsTargets.SnsTopic(trail.alarmTopic)],
    });
    fx = fixture(stack, trail);
  });

  const fromRule = (arn: string, account: string): ContextValues => ({ 'aws:SourceAccount': account, 'aws:SourceArn': arn });
  const RULE_ARN = `arn:aws:events:${REGION}:${ACCOUNT}:rule/Nightly`;

  test('EventBridge may decrypt and generate data keys for a rule of this account and region', async () => {
    const asks: Record<string, Ask> = Object.fromEntries(['kms:Decrypt', ...GENERATE_DATA_KEY_STAR].map(action => [
      action, { principal: EVENTS, action, context: fromRule(RULE_ARN, ACCOUNT) },
    ]));
    expect(await fx.verdicts(asks)).toEqual(every(asks, 'allowed'));
  });

  test('EventBridge is DENIED for a rule of another account, and other actions', async () => {
    const otherRule = RULE_ARN.replace(ACCOUNT, OTHER_ACCOUNT);
    const cases: Record<string, ContextValues> = {
      'another account': fromRule(otherRule, OTHER_ACCOUNT),
      'this account\'s rule, another account': fromRule(RULE_ARN, OTHER_ACCOUNT),
      'no aws:SourceAccount': without(fromRule(RULE_ARN, ACCOUNT), 'aws:SourceAccount'),
    };
    const asks: Record<string, Ask> = {};
    for (const [name, context] of Object.entries(cases)) {
      for (const action of ['kms:Decrypt', ...GENERATE_DATA_KEY_STAR]) asks[`${name}: ${action}`] = { principal: EVENTS, action, context };
    }
    for (const action of ['kms:Encrypt', 'kms:ReEncryptFrom', 'kms:CreateGrant']) {
      asks[`this rule: ${action}`] = { principal: EVENTS, action, context: fromRule(RULE_ARN, ACCOUNT) };
    }
    expect(await fx.verdicts(asks)).toEqual(every(asks, 'denied'));
  });

  test('caveat: the SnsTopic target\'s own grant holds EventBridge to this account only, not to its rules of this region', async () => {
    // aws-events-targets' SnsTopic grants events.amazonaws.com Decrypt and GenerateDataKey* on
    // the topic's key; the ClassifiedKey holds it to aws:SourceAccount only. The publisher
    // statement (ArnLike aws:SourceArn rule/* of this region) is narrower, but the grant's
    // statement allows the rest. aws:SourceAccount is set by AWS, so no other account gets it.
    const asks: Record<string, Ask> = {
      'a rule of this account in another region': { principal: EVENTS, action: 'kms:Decrypt', context: fromRule(RULE_ARN.replace(REGION, 'eu-west-1'), ACCOUNT) },
      'no aws:SourceArn': { principal: EVENTS, action: 'kms:GenerateDataKey', context: without(fromRule(RULE_ARN, ACCOUNT), 'aws:SourceArn') },
    };
    expect(await fx.verdicts(asks)).toEqual(every(asks, 'allowed'));
  });
});
