/**
 * The KeyGrant handler against a mocked KMS client: create (and a retried create that
 * KMS answers with the first grant, by its name), a change that makes a new grant,
 * delete (and a grant already revoked), the marker a Delete needs, the expiry the
 * schedule runs, retries while IAM propagates a new grantee, and every error
 * CreateGrant and RevokeGrant document.
 * @see https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateGrant.html#API_CreateGrant_Errors
 * @see https://docs.aws.amazon.com/kms/latest/APIReference/API_RevokeGrant.html#API_RevokeGrant_Errors
 */
import { createHash } from 'crypto';
import { CreateGrantCommand, KMSClient, ListGrantsCommand, RevokeGrantCommand } from '@aws-sdk/client-kms';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { awsError, customResourceEvent, failure, mockCloudFormation, stackRecord, STACK_ID } from './support/handlers';
import { handler, markerOf } from '../src/delegation/key-grant.lambda';

const stack = mockCloudFormation();
process.env.IAM_RETRY_MS = '0';
const kms = mockClient(KMSClient);

const KEY = 'arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const ANALYST = 'arn:aws:iam::111111111111:role/Analyst';
const GRANT_ID = 'a'.repeat(64);
const NEW_GRANT_ID = 'b'.repeat(64);
const MARKER = createHash('sha256').update(`${STACK_ID}/AuditGrant`).digest('hex').slice(0, 16);
const PROPS = {
  ServiceToken: 'arn:aws:lambda:us-east-1:111111111111:function:framework',
  KeyId: KEY,
  GranteePrincipal: ANALYST,
  Operations: ['Decrypt', 'DescribeKey'],
  EncryptionContextSubset: { project: 'audit-2026' },
  ExpiresAfterSeconds: '28800',
};
/** The same resource granting to CloudWatch Logs, for its log group. */
const SERVICE_PROPS = {
  ...PROPS,
  GranteePrincipal: undefined,
  GranteeServicePrincipal: 'logs.us-east-1.amazonaws.com',
  RetiringServicePrincipal: 'logs.us-east-1.amazonaws.com',
  SourceArn: 'arn:aws:logs:us-east-1:111111111111:log-group:app',
};
const PHYSICAL_ID = `${KEY}|${GRANT_ID}`;
const RESOURCE = { resourceType: 'Custom::KmsKeyGrant', logicalId: 'AuditGrant', properties: PROPS, physicalId: PHYSICAL_ID };
const event = (type: 'Create' | 'Update' | 'Delete', extra: Record<string, unknown> = {}): CloudFormationCustomResourceEvent =>
  customResourceEvent(RESOURCE, type, extra);
const grantName = (requestId = 'request', lifetime: string | null = '28800') =>
  `cdk-kms-constructs-${MARKER}-${createHash('sha256').update(requestId).digest('hex').slice(0, 12)}${lifetime ? `-e${lifetime}` : ''}`;

beforeEach(() => {
  kms.reset();
  stack.reset();
  // The key has no grant of the resource yet, unless a test says otherwise.
  kms.on(ListGrantsCommand).resolves({ Grants: [] });
  jest.spyOn(console, 'log').mockImplementation(() => {});
});

describe('create', () => {
  test('creates the grant with its grantee, operations, constraint and a name of the resource, and returns its ID and token', async () => {
    event('Create');
    stackRecord(stack);
    kms.on(CreateGrantCommand).resolves({ GrantId: GRANT_ID, GrantToken: 'token-1' });
    expect(markerOf(STACK_ID, 'AuditGrant')).toBe(MARKER);
    expect(await handler(event('Create'))).toEqual({
      PhysicalResourceId: PHYSICAL_ID,
      Data: { GrantId: GRANT_ID, GrantToken: 'token-1', GrantName: grantName() },
    });
    expect(kms.commandCalls(CreateGrantCommand)[0].args[0].input).toEqual({
      KeyId: KEY,
      Name: grantName(),
      GranteePrincipal: ANALYST,
      Operations: ['Decrypt', 'DescribeKey'],
      Constraints: { EncryptionContextSubset: { project: 'audit-2026' } },
    });
  });

  test('a retried create sends the same name, so KMS answers with the first grant and makes no second one', async () => {
    stackRecord(stack);
    kms.on(CreateGrantCommand).resolves({ GrantId: GRANT_ID, GrantToken: 'token-2' });
    await handler(event('Create'));
    await handler(event('Create'));
    const names = kms.commandCalls(CreateGrantCommand).map(c => c.args[0].input.Name);
    expect(names).toEqual([grantName(), grantName()]);
  });

  test('a grant to a service principal names it as such, with its source constraint and retiring service', async () => {
    const service = { ...SERVICE_PROPS, EncryptionContextSubset: undefined, ExpiresAfterSeconds: undefined };
    stackRecord(stack);
    kms.on(CreateGrantCommand).resolves({ GrantId: GRANT_ID, GrantToken: 't' });
    await handler(customResourceEvent({ ...RESOURCE, properties: service }, 'Create'));
    expect(kms.commandCalls(CreateGrantCommand)[0].args[0].input).toEqual({
      KeyId: KEY,
      Name: grantName('request', null),
      GranteeServicePrincipal: 'logs.us-east-1.amazonaws.com',
      RetiringServicePrincipal: 'logs.us-east-1.amazonaws.com',
      Operations: ['Decrypt', 'DescribeKey'],
      Constraints: { SourceArn: 'arn:aws:logs:us-east-1:111111111111:log-group:app' },
    });
  });

  test('a grantee IAM has not yet propagated is tried again, then the grant is made', async () => {
    stackRecord(stack);
    kms.on(CreateGrantCommand).rejectsOnce(awsError('InvalidArnException')).rejectsOnce(awsError('InvalidArnException'))
      .resolves({ GrantId: GRANT_ID, GrantToken: 't' });
    expect(await handler(event('Create'))).toMatchObject({ PhysicalResourceId: PHYSICAL_ID });
    expect(kms.commandCalls(CreateGrantCommand)).toHaveLength(3);
  });

  test.each([
    ['NotFoundException', 'The key or the grant does not exist'],
    ['DisabledException', 'The key is disabled: enable it, then retry the deployment'],
    ['KMSInvalidStateException', 'The key cannot take grants in its state'],
    ['InvalidArnException', 'KMS does not accept the grantee or retiring principal'],
    ['InvalidGrantTokenException', 'A grant token in the request is not valid'],
    ['LimitExceededException', 'The key has as many grants as KMS allows'],
    ['DependencyTimeoutException', 'KMS did not answer in time: retry the deployment'],
    ['KMSInternalException', 'KMS failed internally: retry the deployment'],
    ['DryRunOperationException', 'KMS answered a dry run'],
    ['AccessDeniedException', 'The handler may not do this on the key'],
    ['ValidationException', 'KMS refused the grant\'s parameters'],
  ])('CreateGrant failing with %s says what to do', async (name, remedy) => {
    stackRecord(stack);
    kms.on(CreateGrantCommand).rejects(awsError(name));
    const error = await failure(handler(event('Create')));
    expect(error.message).toBe(`Cannot create a grant of Decrypt, DescribeKey on ${KEY} for ${ANALYST}: ${remedy}`
      + error.message.slice(error.message.indexOf(remedy) + remedy.length));
    expect(error.message).toContain(`(${name}: ${name} from AWS)`);
  });

  test('properties not written by KeyGrant are refused before any KMS call', async () => {
    stackRecord(stack);
    const bare = customResourceEvent({ ...RESOURCE, properties: { ServiceToken: 'x', KeyId: KEY } }, 'Create');
    await expect(handler(bare)).rejects.toThrow('The KeyGrant handler was called without Operations, GranteePrincipal or GranteeServicePrincipal (one)');
    expect(kms.calls()).toHaveLength(0);
  });
});

describe('update and delete', () => {
  test('a change makes a new grant, named by the new request, and returns its ID: CloudFormation then deletes the old one', async () => {
    stackRecord(stack);
    kms.on(CreateGrantCommand).resolves({ GrantId: NEW_GRANT_ID, GrantToken: 't' });
    const update = event('Update', { RequestId: 'request-2', OldResourceProperties: { ...PROPS, Operations: ['Decrypt'] } });
    expect(await handler(update)).toMatchObject({ PhysicalResourceId: `${KEY}|${NEW_GRANT_ID}` });
    expect(kms.commandCalls(CreateGrantCommand)[0].args[0].input.Name).toBe(grantName('request-2'));
    expect(kms.commandCalls(RevokeGrantCommand)).toHaveLength(0);
  });

  test('the rollback of a failed update takes back the grant the resource had, by its name: the cleanup then revokes the update\'s', async () => {
    stackRecord(stack, { stackStatus: 'UPDATE_ROLLBACK_IN_PROGRESS' });
    kms.on(ListGrantsCommand).resolves({
      Grants: [
        // The update's grant (one more operation), and the one the resource had before it.
        {
          GrantId: NEW_GRANT_ID,
          Name: grantName('request-2'),
          GranteePrincipal: ANALYST,
          Operations: ['Decrypt', 'DescribeKey', 'Encrypt'],
          Constraints: { EncryptionContextSubset: { project: 'audit-2026' } },
        },
        {
          GrantId: GRANT_ID,
          Name: grantName('request-1'),
          GranteePrincipal: ANALYST,
          Operations: ['DescribeKey', 'Decrypt'],
          Constraints: { EncryptionContextSubset: { project: 'audit-2026' } },
        },
      ],
    });
    kms.on(CreateGrantCommand).resolves({ GrantId: GRANT_ID, GrantToken: 'token-again' });
    const rollback = event('Update', { RequestId: 'request-3', PhysicalResourceId: `${KEY}|${NEW_GRANT_ID}` });
    expect(await handler(rollback)).toMatchObject({ PhysicalResourceId: PHYSICAL_ID, Data: { GrantName: grantName('request-1') } });
    expect(kms.commandCalls(CreateGrantCommand)[0].args[0].input.Name).toBe(grantName('request-1'));
  });

  test('the rollback of an update whose earlier grant has expired makes none: the access stays ended', async () => {
    stackRecord(stack, { stackStatus: 'UPDATE_ROLLBACK_IN_PROGRESS' });
    const rollback = event('Update', { RequestId: 'request-3', PhysicalResourceId: `${KEY}|${NEW_GRANT_ID}` });
    const answer = await handler(rollback) as { PhysicalResourceId: string };
    expect(answer.PhysicalResourceId).toMatch(/^expired-[0-9a-f]{12}$/);
    expect(kms.commandCalls(CreateGrantCommand)).toHaveLength(0);
    // Its later Delete has nothing to revoke.
    stackRecord(stack);
    await handler(event('Delete', { PhysicalResourceId: answer.PhysicalResourceId }));
    expect(kms.commandCalls(RevokeGrantCommand)).toHaveLength(0);
  });

  test('a grant is taken back whatever the order of its encryption context, and a service\'s grant by its service fields', async () => {
    stackRecord(stack);
    const service = { ...SERVICE_PROPS, EncryptionContextSubset: { b: '2', a: '1' } };
    kms.on(ListGrantsCommand).resolves({
      Grants: [{
        GrantId: GRANT_ID,
        Name: grantName('request-1'),
        GranteeServicePrincipal: 'logs.us-east-1.amazonaws.com',
        RetiringServicePrincipal: 'logs.us-east-1.amazonaws.com',
        Operations: ['DescribeKey', 'Decrypt'],
        Constraints: { EncryptionContextSubset: { a: '1', b: '2' }, SourceArn: 'arn:aws:logs:us-east-1:111111111111:log-group:app' },
      }],
    });
    kms.on(CreateGrantCommand).resolves({ GrantId: GRANT_ID, GrantToken: 't' });
    await handler(customResourceEvent({ ...RESOURCE, properties: service }, 'Create'));
    expect(kms.commandCalls(CreateGrantCommand)[0].args[0].input.Name).toBe(grantName('request-1'));
  });

  test('a grant of the resource with other parameters, or another resource\'s with the same ones, is not taken back', async () => {
    stackRecord(stack);
    kms.on(ListGrantsCommand).resolves({
      Grants: [
        {
          GrantId: GRANT_ID,
          Name: grantName('request-1', '3600'),
          GranteePrincipal: ANALYST,
          Operations: ['Decrypt', 'DescribeKey'],
          Constraints: { EncryptionContextSubset: { project: 'audit-2026' } },
        },
        // The same but for a retiring principal: KMS would not return it for this request's parameters.
        {
          GrantId: 'f'.repeat(64),
          Name: grantName('request-4'),
          GranteePrincipal: ANALYST,
          RetiringPrincipal: 'arn:aws:iam::111111111111:role/Ops',
          Operations: ['Decrypt', 'DescribeKey'],
          Constraints: { EncryptionContextSubset: { project: 'audit-2026' } },
        },
        {
          GrantId: 'c'.repeat(64),
          Name: `cdk-kms-constructs-${'9'.repeat(16)}-${'1'.repeat(12)}-e28800`,
          GranteePrincipal: ANALYST,
          Operations: ['Decrypt', 'DescribeKey'],
          Constraints: { EncryptionContextSubset: { project: 'audit-2026' } },
        },
      ],
    });
    kms.on(CreateGrantCommand).resolves({ GrantId: NEW_GRANT_ID, GrantToken: 't' });
    await handler(event('Create'));
    expect(kms.commandCalls(CreateGrantCommand)[0].args[0].input.Name).toBe(grantName());
  });

  test('a delete revokes the grant the resource made', async () => {
    stackRecord(stack);
    kms.on(ListGrantsCommand).resolves({ Grants: [{ GrantId: GRANT_ID, Name: grantName() }] });
    kms.on(RevokeGrantCommand).resolves({});
    await handler(event('Delete'));
    expect(kms.commandCalls(RevokeGrantCommand)[0].args[0].input).toEqual({ KeyId: KEY, GrantId: GRANT_ID });
  });

  test('a grant already revoked (expired) or a key already deleted is done', async () => {
    stackRecord(stack);
    kms.on(ListGrantsCommand).resolves({ Grants: [] });
    await handler(event('Delete'));
    kms.on(ListGrantsCommand).rejects(awsError('NotFoundException'));
    await handler(event('Delete'));
    kms.on(ListGrantsCommand).resolves({ Grants: [{ GrantId: GRANT_ID, Name: grantName() }] });
    kms.on(RevokeGrantCommand).rejects(awsError('NotFoundException'));
    await handler(event('Delete'));
    kms.on(RevokeGrantCommand).rejects(awsError('InvalidGrantIdException'));
    await handler(event('Delete'));
  });

  test('a delete of a grant another resource made (not its marker) is refused, and nothing is revoked', async () => {
    stackRecord(stack);
    kms.on(ListGrantsCommand).resolves({ Grants: [{ GrantId: GRANT_ID, Name: 'dynamodb-table-grant' }] });
    await expect(handler(event('Delete'))).rejects.toThrow(/^Refused a Delete event for AuditGrant: grant a{64} on .* is named "dynamodb-table-grant", not by this resource.*changed nothing$/);
    expect(kms.commandCalls(RevokeGrantCommand)).toHaveLength(0);
  });

  test('a delete of a create that failed (no grant ID) is done without a call', async () => {
    stackRecord(stack);
    await handler(event('Delete', { PhysicalResourceId: 'request' }));
    await handler(event('Delete', { PhysicalResourceId: GRANT_ID }));
    expect(kms.calls()).toHaveLength(0);
  });

  test.each([
    ['DependencyTimeoutException', 'KMS did not answer in time'],
    ['KMSInternalException', 'KMS failed internally'],
    ['KMSInvalidStateException', 'The key cannot take grants in its state'],
    ['InvalidArnException', 'KMS does not accept'],
    ['AccessDeniedException', 'The handler may not do this on the key'],
  ])('RevokeGrant failing with %s says what to do', async (name, remedy) => {
    stackRecord(stack);
    kms.on(ListGrantsCommand).resolves({ Grants: [{ GrantId: GRANT_ID, Name: grantName() }] });
    kms.on(RevokeGrantCommand).rejects(awsError(name));
    await expect(handler(event('Delete'))).rejects.toThrow(`Cannot revoke grant ${GRANT_ID} on ${KEY}: ${remedy}`);
  });
});

describe('expiry, run by the schedule', () => {
  const created = (hoursAgo: number) => new Date(Date.now() - hoursAgo * 3600 * 1000);

  test('revokes the KeyGrant grants whose lifetime has passed, and no other', async () => {
    kms.on(ListGrantsCommand).resolvesOnce({
      Grants: [
        { GrantId: 'e'.repeat(64), Name: grantName('r1', '28800'), CreationDate: created(9) },
        { GrantId: 'f'.repeat(64), Name: grantName('r2', '28800'), CreationDate: created(7) },
      ],
      Truncated: true,
      NextMarker: 'page-2',
    }).resolvesOnce({
      Grants: [
        { GrantId: 'c'.repeat(64), Name: grantName('r3', null), CreationDate: created(100) },
        { GrantId: 'd'.repeat(64), Name: 'dynamodb-table-grant', CreationDate: created(100) },
        { GrantId: '0'.repeat(64), Name: `cdk-kms-constructs-${'1'.repeat(16)}-${'2'.repeat(12)}-e3600`, CreationDate: created(2) },
      ],
      Truncated: false,
    });
    kms.on(RevokeGrantCommand).resolves({});
    expect(await handler({ expireGrants: { KeyId: KEY } })).toEqual({ revoked: ['e'.repeat(64), '0'.repeat(64)] });
    expect(kms.commandCalls(ListGrantsCommand)[1].args[0].input).toEqual({ KeyId: KEY, Marker: 'page-2', Limit: 100 });
    expect(kms.commandCalls(RevokeGrantCommand).map(c => c.args[0].input.GrantId)).toEqual(['e'.repeat(64), '0'.repeat(64)]);
  });

  test('asks CloudFormation nothing: a forged expiry can only revoke grants already past their time', async () => {
    kms.on(ListGrantsCommand).resolves({ Grants: [{ GrantId: 'f'.repeat(64), Name: grantName('r2', '28800'), CreationDate: created(1) }] });
    expect(await handler({ expireGrants: { KeyId: KEY } })).toEqual({ revoked: [] });
    expect(stack.calls()).toHaveLength(0);
    expect(kms.commandCalls(RevokeGrantCommand)).toHaveLength(0);
  });

  test('fails with what to do when it cannot list the grants, or is sent no key', async () => {
    kms.on(ListGrantsCommand).rejects(awsError('AccessDeniedException'));
    await expect(handler({ expireGrants: { KeyId: KEY } })).rejects.toThrow(`Cannot list the grants of ${KEY} to expire them: The handler may not do this on the key`);
    await expect(handler({ expireGrants: {} } as never)).rejects.toThrow('The KeyGrant expiry was called without expireGrants.KeyId');
  });
});
