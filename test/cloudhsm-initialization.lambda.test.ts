/**
 * The handlers that initialize a CloudHsmCluster with an ACM Private CA, against mocked
 * CloudHSM and ACM Private CA clients and real certificates (test/fixtures/cloudhsm):
 *
 * - onEvent has the CA (an ACTIVE root) sign the cluster's CSR, refuses a CA or a
 *   cluster that cannot do it, leaves an initialized cluster alone as long as its
 *   certificate was issued by the CA, and does nothing on Delete;
 * - isComplete takes one step per call: waits for the certificate, calls
 *   InitializeCluster once with it and the CA's certificate as trust anchor, waits
 *   through INITIALIZE_IN_PROGRESS, and ends with the trust anchor;
 * - every documented error of those calls becomes what to do, with its name.
 * @see https://docs.aws.amazon.com/cloudhsm/latest/userguide/initialize-cluster.html
 * @see https://docs.aws.amazon.com/cloudhsm/latest/APIReference/API_InitializeCluster.html#API_InitializeCluster_Errors
 * @see https://docs.aws.amazon.com/privateca/latest/APIReference/API_IssueCertificate.html#API_IssueCertificate_Errors
 * @see https://docs.aws.amazon.com/privateca/latest/APIReference/API_GetCertificate.html#API_GetCertificate_Errors
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import * as acmpca from '@aws-sdk/client-acm-pca';
import { ACMPCAClient, CertificateAuthority } from '@aws-sdk/client-acm-pca';
import * as hsm from '@aws-sdk/client-cloudhsm-v2';
import { CloudHSMV2Client, Cluster } from '@aws-sdk/client-cloudhsm-v2';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { AwsCommand, mockClient } from 'aws-sdk-client-mock';
import { awsError, customResourceEvent, failure, mockCloudFormation, STACK_CLUSTER, stackRecord } from './support/handlers';
import { handler as waitForInitialization } from '../src/key-store/cloudhsm-initialization-ready.lambda';
import { handler } from '../src/key-store/cloudhsm-initialization.lambda';

const stack = mockCloudFormation();
import { checkIssuedBy, readAuthorityCertificate } from '../src/key-store/cluster-certificates';

/*
 * The type casts, and the only ones: @aws-sdk/client-cloudhsm-v2 3.332.0 and
 * @aws-sdk/client-acm-pca 3.523.0 are built on older smithy types than aws-sdk-client-mock 4
 * (their MiddlewareStack has no identifyOnResolve), so their clients and commands are
 * given to it as its own types. A command keeps its input and output types, read from its
 * resolveMiddleware; nothing changes at run time.
 */
type Mockable<C> = C extends new (input: infer I) => { resolveMiddleware(...args: never[]): (...args: never[]) => Promise<{ output: infer O }> }
  ? new (input: I) => AwsCommand<I, O> : never;
const mockable = <C>(command: C) => command as unknown as Mockable<C>;
const mockableClient = (client: unknown) => mockClient(client as Parameters<typeof mockClient>[0]);
const DescribeClustersCommand = mockable(hsm.DescribeClustersCommand);
const InitializeClusterCommand = mockable(hsm.InitializeClusterCommand);
const DescribeCertificateAuthorityCommand = mockable(acmpca.DescribeCertificateAuthorityCommand);
const GetCertificateAuthorityCertificateCommand = mockable(acmpca.GetCertificateAuthorityCertificateCommand);
const GetCertificateCommand = mockable(acmpca.GetCertificateCommand);
const IssueCertificateCommand = mockable(acmpca.IssueCertificateCommand);

const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', 'cloudhsm', name), 'utf8');
const ROOT_A = fixture('root-ca-a.pem');
const ROOT_B = fixture('root-ca-b.pem');
const IMPOSTOR_A = fixture('root-ca-a-impostor.pem');
const CSR = fixture('cluster.csr');
const SIGNED_BY_A = fixture('cluster-signed-by-a.pem');
const SIGNED_BY_B = fixture('cluster-signed-by-b.pem');
const SUBJECT_A = 'O=cdk-kms-constructs tests, CN=Test Root CA A';
const SUBJECT_B = 'O=cdk-kms-constructs tests, CN=Test Root CA B';

const cloudhsm = mockableClient(CloudHSMV2Client);
const pca = mockableClient(ACMPCAClient);
const CLUSTER_ID = 'cluster-1a23b4cdefg';
const CA = 'arn:aws:acm-pca:us-east-1:111111111111:certificate-authority/11111111-2222-3333-4444-555555555555';
const CA_2 = 'arn:aws:acm-pca:us-east-1:111111111111:certificate-authority/99999999-8888-7777-6666-555555555555';
const CERTIFICATE = `${CA}/certificate/0123456789abcdef0123456789abcdef`;
const PHYSICAL_ID = `${CLUSTER_ID}/initialization`;
const PROPS = {
  ServiceToken: 'arn:aws:lambda:us-east-1:111111111111:function:framework',
  ClusterId: CLUSTER_ID,
  ClusterLogicalId: 'Cluster',
  CertificateAuthorityArn: CA,
  ValidityDays: '3650',
};

type Type = 'Create' | 'Update' | 'Delete';

const RESOURCE = { resourceType: 'Custom::CloudHsmClusterInitialization', logicalId: 'ClusterInitialization', properties: PROPS, physicalId: PHYSICAL_ID };

function event(type: Type, extra: Record<string, unknown> = {}): CloudFormationCustomResourceEvent {
  return customResourceEvent(RESOURCE, type, extra);
}

/** The isComplete event: onEvent's event with its PhysicalResourceId and Data (none when null), as the Provider framework passes it. */
function waitEvent(type: Type = 'Create', data: Record<string, string> | null = { CertificateArn: CERTIFICATE }, extra: Record<string, unknown> = {}) {
  return { ...event(type, extra), PhysicalResourceId: PHYSICAL_ID, ...(data ? { Data: data } : {}) };
}

function cluster(state: string, extra: Partial<Cluster> = {}): { Clusters: Cluster[] } {
  return { Clusters: [{ ClusterId: CLUSTER_ID, State: state as Cluster['State'], ...extra }] };
}

const uninitialized = (extra: Partial<Cluster> = {}) => cluster('UNINITIALIZED', { Certificates: { ClusterCsr: CSR }, ...extra });

function authority(extra: Partial<CertificateAuthority> = {}): { CertificateAuthority: CertificateAuthority } {
  return {
    CertificateAuthority: {
      Arn: CA,
      Type: 'ROOT',
      Status: 'ACTIVE',
      CertificateAuthorityConfiguration: {
        KeyAlgorithm: 'RSA_2048',
        SigningAlgorithm: 'SHA256WITHRSA',
        Subject: { Organization: 'cdk-kms-constructs tests', CommonName: 'Test Root CA A' },
      },
      ...extra,
    },
  };
}

beforeEach(() => {
  stack.reset();
  stackRecord(stack, { resources: STACK_CLUSTER });
  cloudhsm.reset();
  pca.reset();
  pca.on(DescribeCertificateAuthorityCommand).resolves(authority());
  pca.on(IssueCertificateCommand).resolves({ CertificateArn: CERTIFICATE });
  pca.on(GetCertificateAuthorityCertificateCommand).resolves({ Certificate: ROOT_A });
});

describe('onEvent: create on an UNINITIALIZED cluster', () => {
  test('has the CA sign the cluster\'s CSR, with the CA\'s signing algorithm and the validity asked for', async () => {
    cloudhsm.on(DescribeClustersCommand).resolves(uninitialized());
    await expect(handler(event('Create'))).resolves.toEqual({ PhysicalResourceId: PHYSICAL_ID, Data: { CertificateArn: CERTIFICATE } });
    expect(cloudhsm.commandCalls(DescribeClustersCommand).map(call => call.args[0].input)).toEqual([{ Filters: { clusterIds: [CLUSTER_ID] } }]);
    expect(pca.commandCalls(DescribeCertificateAuthorityCommand).map(call => call.args[0].input)).toEqual([{ CertificateAuthorityArn: CA }]);
    const issued = pca.commandCalls(IssueCertificateCommand);
    expect(issued).toHaveLength(1);
    const { Csr, IdempotencyToken, ...input } = issued[0].args[0].input;
    expect(input).toEqual({
      CertificateAuthorityArn: CA,
      SigningAlgorithm: 'SHA256WITHRSA',
      // An end-entity certificate, the only kind the role may have the CA issue.
      TemplateArn: 'arn:aws:acm-pca:::template/EndEntityCertificate/V1',
      Validity: { Type: 'DAYS', Value: 3650 },
    });
    expect(Buffer.from(Csr!).toString('utf8')).toBe(CSR);
    expect(IdempotencyToken).toEqual(expect.any(String));
    expect(cloudhsm.commandCalls(InitializeClusterCommand)).toHaveLength(0);
    expect(pca.commandCalls(GetCertificateCommand)).toHaveLength(0);
  });

  test('the signing algorithm is the CA\'s own, whatever it is', async () => {
    cloudhsm.on(DescribeClustersCommand).resolves(uninitialized());
    pca.on(DescribeCertificateAuthorityCommand).resolves(authority({
      CertificateAuthorityConfiguration: { KeyAlgorithm: 'EC_secp384r1', SigningAlgorithm: 'SHA384WITHECDSA', Subject: {} },
    }));
    await handler(event('Create', { ResourceProperties: { ...PROPS, ValidityDays: '365' } }));
    expect(pca.commandCalls(IssueCertificateCommand)[0].args[0].input).toMatchObject({
      SigningAlgorithm: 'SHA384WITHECDSA',
      Validity: { Type: 'DAYS', Value: 365 },
    });
  });

  test('the idempotency token is the same for the same cluster and CA, another for another, and at most 36 characters', async () => {
    cloudhsm.on(DescribeClustersCommand).resolves(uninitialized());
    const tokenFor = async (props: Record<string, string>) => {
      pca.resetHistory();
      await handler(event('Create', { ResourceProperties: { ...PROPS, ...props } }));
      return pca.commandCalls(IssueCertificateCommand)[0].args[0].input.IdempotencyToken!;
    };
    const first = await tokenFor({});
    expect(await tokenFor({})).toBe(first);
    // ACM Private CA: 1 to 36 characters of [\t\n\r\u0020-\u00FF].
    expect(first).toMatch(/^[\t\n\r\u0020-\u00FF]{1,36}$/);
    expect(await tokenFor({ CertificateAuthorityArn: CA_2 })).not.toBe(first);
    cloudhsm.on(DescribeClustersCommand).resolves({ Clusters: [{ ...uninitialized().Clusters[0], ClusterId: 'cluster-9z99z9zzzzz' }] });
    expect(await tokenFor({ ClusterId: 'cluster-9z99z9zzzzz' })).not.toBe(first);
  });

  test('a cluster that has no CSR yet is an error saying its first HSM must be ACTIVE, and nothing is issued', async () => {
    cloudhsm.on(DescribeClustersCommand).resolves(cluster('UNINITIALIZED', { Certificates: {} }));
    await expect(handler(event('Create'))).rejects.toThrow(
      `CloudHSM cluster ${CLUSTER_ID} has no certificate signing request yet: CloudHSM makes it once the cluster's first HSM is ACTIVE`,
    );
    cloudhsm.on(DescribeClustersCommand).resolves(cluster('UNINITIALIZED'));
    await expect(handler(event('Create'))).rejects.toThrow(/no certificate signing request yet.*first HSM is ACTIVE/);
    expect(pca.calls()).toHaveLength(0);
  });

  test.each(['CREATE_IN_PROGRESS', 'DELETE_IN_PROGRESS', 'DELETED'])('a %s cluster is refused before the CA is asked', async state => {
    cloudhsm.on(DescribeClustersCommand).resolves(cluster(state, { Certificates: { ClusterCsr: CSR } }));
    await expect(handler(event('Create'))).rejects.toThrow(`CloudHSM cluster ${CLUSTER_ID} is ${state}: only an UNINITIALIZED cluster can be initialized`);
    expect(pca.calls()).toHaveLength(0);
  });

  test('a cluster that does not exist is an error, also when the account has others', async () => {
    cloudhsm.on(DescribeClustersCommand).resolves({ Clusters: [] });
    await expect(handler(event('Create'))).rejects.toThrow(`CloudHSM cluster ${CLUSTER_ID} does not exist in this account and Region`);
    cloudhsm.on(DescribeClustersCommand).resolves({ Clusters: [{ ClusterId: 'cluster-other000000', State: 'UNINITIALIZED', Certificates: { ClusterCsr: CSR } }] });
    await expect(handler(event('Create'))).rejects.toThrow(`CloudHSM cluster ${CLUSTER_ID} does not exist in this account and Region`);
    cloudhsm.on(DescribeClustersCommand).resolves({});
    await expect(handler(event('Create'))).rejects.toThrow('does not exist in this account and Region');
    expect(pca.calls()).toHaveLength(0);
  });

  test('a cluster CloudHSM will not describe is an error with what to do', async () => {
    cloudhsm.on(DescribeClustersCommand).rejects(awsError('CloudHsmAccessDeniedException'));
    await expect(handler(event('Create'))).rejects.toThrow(
      `Cannot describe CloudHSM cluster ${CLUSTER_ID}: CloudHSM refused the request: the handler's role, a service control policy or a permissions boundary does not allow it (CloudHsmAccessDeniedException: CloudHsmAccessDeniedException from AWS)`,
    );
  });
});

describe('onEvent: the certificate authority', () => {
  beforeEach(() => {
    cloudhsm.on(DescribeClustersCommand).resolves(uninitialized());
  });

  test('a SUBORDINATE CA is refused: the trust anchor must be a self-signed ROOT', async () => {
    pca.on(DescribeCertificateAuthorityCommand).resolves(authority({ Type: 'SUBORDINATE' }));
    const error = await failure(handler(event('Create')));
    expect(error.message).toBe(
      `certificateAuthority ${CA} is a SUBORDINATE CA: CloudHSM takes as trust anchor the self-signed certificate that signed the cluster's, so it must be a ROOT CA`,
    );
    expect(pca.commandCalls(IssueCertificateCommand)).toHaveLength(0);
  });

  test('a CA of no known type is refused as not ROOT', async () => {
    pca.on(DescribeCertificateAuthorityCommand).resolves({});
    await expect(handler(event('Create'))).rejects.toThrow(`certificateAuthority ${CA} is a unknown CA: CloudHSM takes as trust anchor the self-signed`);
    expect(pca.commandCalls(IssueCertificateCommand)).toHaveLength(0);
  });

  test.each(['PENDING_CERTIFICATE', 'DISABLED', 'CREATING', 'EXPIRED', 'FAILED', 'DELETED'])('a %s CA is refused: it issues only when ACTIVE', async status => {
    pca.on(DescribeCertificateAuthorityCommand).resolves(authority({ Status: status as CertificateAuthority['Status'] }));
    await expect(handler(event('Create'))).rejects.toThrow(
      `certificateAuthority ${CA} is ${status}: it issues certificates only when ACTIVE (installed with its certificate, and enabled)`,
    );
    expect(pca.commandCalls(IssueCertificateCommand)).toHaveLength(0);
  });

  test('a CA with no signing algorithm is refused', async () => {
    pca.on(DescribeCertificateAuthorityCommand).resolves(authority({ CertificateAuthorityConfiguration: undefined }));
    await expect(handler(event('Create'))).rejects.toThrow(`certificateAuthority ${CA} has no signing algorithm`);
    expect(pca.commandCalls(IssueCertificateCommand)).toHaveLength(0);
  });

  test.each([
    ['ResourceNotFoundException', 'the certificate authority does not exist in this account and Region'],
    ['InvalidArnException', 'certificateAuthority is not the ARN of a private CA'],
    ['AccessDeniedException', 'the handler\'s role may not make this call'],
  ])('DescribeCertificateAuthority failing with %s is what to do', async (name, remedy) => {
    pca.on(DescribeCertificateAuthorityCommand).rejects(awsError(name));
    const error = await failure(handler(event('Create')));
    expect(error.message).toMatch(new RegExp(`^Cannot describe certificateAuthority ${CA}: `));
    expect(error.message).toContain(remedy);
    expect(error.message).toContain(`(${name}: ${name} from AWS)`);
    expect(pca.commandCalls(IssueCertificateCommand)).toHaveLength(0);
  });

  test.each([
    ['ResourceNotFoundException', 'the certificate authority does not exist in this account and Region'],
    ['InvalidStateException', 'the certificate authority is not ACTIVE (a CA must be installed with its certificate, and not disabled, to issue certificates)'],
    ['LimitExceededException', 'an ACM Private CA quota is reached (certificates issued by the CA)'],
    ['MalformedCSRException', 'ACM Private CA refused the cluster\'s certificate signing request'],
    ['InvalidArgsException', 'the validity may exceed the CA\'s own'],
    ['InvalidArnException', 'certificateAuthority is not the ARN of a private CA'],
    ['AccessDeniedException', 'the handler\'s role may not make this call; check for a service control policy or permissions boundary that denies it'],
  ])('IssueCertificate failing with %s is what to do', async (name, remedy) => {
    pca.on(IssueCertificateCommand).rejects(awsError(name));
    const error = await failure(handler(event('Create')));
    expect(error.message).toMatch(new RegExp(`^Cannot have ${CA} sign the certificate of CloudHSM cluster ${CLUSTER_ID}: `));
    expect(error.message).toContain(remedy);
    expect(error.message).toContain(`(${name}: ${name} from AWS)`);
  });

  test('an error with no remedy keeps its name and message', async () => {
    pca.on(IssueCertificateCommand).rejects(awsError('SomethingNewException'));
    await expect(handler(event('Create'))).rejects.toThrow(
      `Cannot have ${CA} sign the certificate of CloudHSM cluster ${CLUSTER_ID}: SomethingNewException: SomethingNewException from AWS`,
    );
  });
});

describe('onEvent: a cluster initialized already', () => {
  test.each(['INITIALIZED', 'ACTIVE', 'INITIALIZE_IN_PROGRESS'])('%s with a certificate issued by the CA passes, and nothing is issued', async state => {
    cloudhsm.on(DescribeClustersCommand).resolves(cluster(state, { Certificates: { ClusterCsr: CSR, ClusterCertificate: SIGNED_BY_A } }));
    await expect(handler(event('Create'))).resolves.toEqual({ PhysicalResourceId: PHYSICAL_ID });
    expect(pca.commandCalls(GetCertificateAuthorityCertificateCommand).map(call => call.args[0].input)).toEqual([{ CertificateAuthorityArn: CA }]);
    expect(pca.commandCalls(DescribeCertificateAuthorityCommand)).toHaveLength(0);
    expect(pca.commandCalls(IssueCertificateCommand)).toHaveLength(0);
    expect(cloudhsm.commandCalls(InitializeClusterCommand)).toHaveLength(0);
  });

  test.each(['INITIALIZED', 'ACTIVE', 'INITIALIZE_IN_PROGRESS'])('%s with a certificate issued by another CA is refused, naming both', async state => {
    cloudhsm.on(DescribeClustersCommand).resolves(cluster(state, { Certificates: { ClusterCertificate: SIGNED_BY_B } }));
    const error = await failure(handler(event('Update')));
    expect(error.message).toBe(
      `CloudHSM cluster ${CLUSTER_ID} was initialized with a certificate issued by "${SUBJECT_B}", not by certificateAuthority ${CA} ("${SUBJECT_A}"): `
      + 'a cluster is initialized once, so certificateAuthority must be the CA that signed it',
    );
    expect(pca.commandCalls(IssueCertificateCommand)).toHaveLength(0);
  });

  test('a certificate from a CA that only has the same name is refused: the signature is checked, not just the issuer', async () => {
    cloudhsm.on(DescribeClustersCommand).resolves(cluster('INITIALIZED', { Certificates: { ClusterCertificate: SIGNED_BY_A } }));
    pca.on(GetCertificateAuthorityCertificateCommand).resolves({ Certificate: IMPOSTOR_A });
    await expect(handler(event('Create'))).rejects.toThrow(
      `was initialized with a certificate issued by "${SUBJECT_A}", not by certificateAuthority ${CA} ("${SUBJECT_A}")`,
    );
  });

  test.each(['INITIALIZED', 'ACTIVE', 'INITIALIZE_IN_PROGRESS'])('%s without a cluster certificate passes without asking the CA', async state => {
    cloudhsm.on(DescribeClustersCommand).resolves(cluster(state));
    await expect(handler(event('Create'))).resolves.toEqual({ PhysicalResourceId: PHYSICAL_ID });
    expect(pca.calls()).toHaveLength(0);
  });

  test('a CA whose certificate cannot be read fails the check with what to do', async () => {
    cloudhsm.on(DescribeClustersCommand).resolves(cluster('ACTIVE', { Certificates: { ClusterCertificate: SIGNED_BY_A } }));
    pca.on(GetCertificateAuthorityCertificateCommand).rejects(awsError('ResourceNotFoundException'));
    await expect(handler(event('Update'))).rejects.toThrow(
      `Cannot read the certificate of certificateAuthority ${CA}: the certificate authority does not exist in this account and Region (ResourceNotFoundException: ResourceNotFoundException from AWS)`,
    );
  });
});

describe('onEvent: delete and properties', () => {
  test('delete returns the physical id and sends nothing: a cluster cannot be uninitialized', async () => {
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: PHYSICAL_ID });
    await expect(handler(event('Delete', { PhysicalResourceId: 'ClusterInitialization-request', ResourceProperties: { ServiceToken: 'x' } })))
      .resolves.toEqual({ PhysicalResourceId: 'ClusterInitialization-request' });
    expect(cloudhsm.calls()).toHaveLength(0);
    expect(pca.calls()).toHaveLength(0);
  });

  test.each([
    ['no properties', { ServiceToken: 'x' }],
    ['no ClusterId', { ...PROPS, ClusterId: '' }],
    ['no CertificateAuthorityArn', { ...PROPS, CertificateAuthorityArn: undefined }],
    ['no ValidityDays', { ...PROPS, ValidityDays: undefined }],
    ['a ValidityDays of 0', { ...PROPS, ValidityDays: '0' }],
    ['a ValidityDays not a whole number', { ...PROPS, ValidityDays: '36.5' }],
  ])('%s is refused, naming the resource, before any call', async (_name, props) => {
    const message = 'The cluster initialization handler was called without ClusterId, CertificateAuthorityArn or ValidityDays: the custom resource was not written by CloudHsmCluster';
    await expect(handler(event('Create', { ResourceProperties: props }))).rejects.toThrow(message);
    await expect(waitForInitialization(waitEvent('Create', null, { ResourceProperties: props }))).rejects.toThrow(message);
    expect(cloudhsm.calls()).toHaveLength(0);
    expect(pca.calls()).toHaveLength(0);
  });
});

describe('isComplete: the wait for the initialization', () => {
  test('a deletion is complete at once and sends nothing', async () => {
    await expect(waitForInitialization(waitEvent('Delete', null))).resolves.toEqual({ IsComplete: true });
    expect(cloudhsm.calls()).toHaveLength(0);
    expect(pca.calls()).toHaveLength(0);
  });

  test('INITIALIZE_IN_PROGRESS waits, and asks nothing else', async () => {
    cloudhsm.on(DescribeClustersCommand).resolves(cluster('INITIALIZE_IN_PROGRESS'));
    await expect(waitForInitialization(waitEvent())).resolves.toEqual({ IsComplete: false });
    expect(cloudhsm.calls()).toHaveLength(1);
    expect(cloudhsm.commandCalls(DescribeClustersCommand)[0].args[0].input).toEqual({ Filters: { clusterIds: [CLUSTER_ID] } });
    expect(pca.calls()).toHaveLength(0);
  });

  test.each(['INITIALIZED', 'ACTIVE'])('%s is complete, with the CA\'s certificate as the trust anchor', async state => {
    cloudhsm.on(DescribeClustersCommand).resolves(cluster(state, { Certificates: { ClusterCertificate: SIGNED_BY_A } }));
    await expect(waitForInitialization(waitEvent())).resolves.toEqual({ IsComplete: true, Data: { TrustAnchorCertificate: ROOT_A } });
    expect(pca.commandCalls(GetCertificateAuthorityCertificateCommand).map(call => call.args[0].input)).toEqual([{ CertificateAuthorityArn: CA }]);
    expect(pca.commandCalls(GetCertificateCommand)).toHaveLength(0);
    expect(cloudhsm.commandCalls(InitializeClusterCommand)).toHaveLength(0);
  });

  test.each(['DEGRADED', 'UPDATE_IN_PROGRESS', 'MODIFY_IN_PROGRESS'])('%s with its signed certificate is initialized: complete', async state => {
    cloudhsm.on(DescribeClustersCommand).resolves(cluster(state, { Certificates: { ClusterCertificate: SIGNED_BY_A } }));
    await expect(waitForInitialization(waitEvent())).resolves.toEqual({ IsComplete: true, Data: { TrustAnchorCertificate: ROOT_A } });
    expect(cloudhsm.commandCalls(InitializeClusterCommand)).toHaveLength(0);
  });

  test.each(['ThrottlingException', 'CloudHsmInternalFailureException'])('DescribeClusters failing with %s only means not done yet', async name => {
    cloudhsm.on(DescribeClustersCommand).rejects(awsError(name));
    await expect(waitForInitialization(waitEvent())).resolves.toEqual({ IsComplete: false });
    expect(cloudhsm.commandCalls(InitializeClusterCommand)).toHaveLength(0);
  });

  test('a trust anchor too long for CloudFormation\'s 4,096-byte response fails, saying what to do', async () => {
    cloudhsm.on(DescribeClustersCommand).resolves(cluster('INITIALIZED', { Certificates: { ClusterCertificate: SIGNED_BY_A } }));
    const long = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(3100)}\n-----END CERTIFICATE-----`;
    pca.on(GetCertificateAuthorityCertificateCommand).resolves({ Certificate: long });
    await expect(waitForInitialization(waitEvent())).rejects.toThrow(
      `The certificate of certificateAuthority ${CA} is ${long.length} characters, more than a custom resource can return to CloudFormation (3000 here): `
      + 'the cluster is initialized; give the key store that certificate (GetCertificateAuthorityCertificate) as trustAnchorCertificate and drop certificateAuthority',
    );
  });

  test('an update of an initialized cluster (no certificate asked for) is complete', async () => {
    cloudhsm.on(DescribeClustersCommand).resolves(cluster('ACTIVE'));
    await expect(waitForInitialization(waitEvent('Update', null))).resolves.toEqual({ IsComplete: true, Data: { TrustAnchorCertificate: ROOT_A } });
  });

  test('UNINITIALIZED while the certificate is being issued waits, and does not initialize', async () => {
    cloudhsm.on(DescribeClustersCommand).resolves(uninitialized());
    pca.on(GetCertificateCommand).rejects(awsError('RequestInProgressException'));
    await expect(waitForInitialization(waitEvent())).resolves.toEqual({ IsComplete: false });
    expect(pca.commandCalls(GetCertificateCommand).map(call => call.args[0].input)).toEqual([
      { CertificateAuthorityArn: CA, CertificateArn: CERTIFICATE },
    ]);
    expect(cloudhsm.commandCalls(InitializeClusterCommand)).toHaveLength(0);
  });

  test('a certificate given back empty waits, and does not initialize', async () => {
    cloudhsm.on(DescribeClustersCommand).resolves(uninitialized());
    pca.on(GetCertificateCommand).resolves({});
    await expect(waitForInitialization(waitEvent())).resolves.toEqual({ IsComplete: false });
    expect(cloudhsm.commandCalls(InitializeClusterCommand)).toHaveLength(0);
  });

  test('once issued, initializes the cluster with the certificate and the CA\'s as trust anchor, and waits', async () => {
    cloudhsm.on(DescribeClustersCommand).resolves(uninitialized());
    cloudhsm.on(InitializeClusterCommand).resolves({ State: 'INITIALIZE_IN_PROGRESS' });
    pca.on(GetCertificateCommand).resolves({ Certificate: SIGNED_BY_A, CertificateChain: ROOT_A });
    await expect(waitForInitialization(waitEvent())).resolves.toEqual({ IsComplete: false });
    expect(cloudhsm.commandCalls(InitializeClusterCommand).map(call => call.args[0].input)).toEqual([
      { ClusterId: CLUSTER_ID, SignedCert: SIGNED_BY_A, TrustAnchor: ROOT_A },
    ]);
  });

  test('the whole sequence: onEvent asks, the wait waits for the certificate, initializes once, waits, and ends with the trust anchor', async () => {
    cloudhsm.on(DescribeClustersCommand)
      .resolvesOnce(uninitialized()) // onEvent
      .resolvesOnce(uninitialized()) // wait 1: certificate not issued yet
      .resolvesOnce(uninitialized()) // wait 2: issued, InitializeCluster
      .resolvesOnce(cluster('INITIALIZE_IN_PROGRESS', { Certificates: { ClusterCsr: CSR } })) // wait 3
      .resolves(cluster('INITIALIZED', { Certificates: { ClusterCsr: CSR, ClusterCertificate: SIGNED_BY_A } })); // wait 4
    cloudhsm.on(InitializeClusterCommand).resolves({ State: 'INITIALIZE_IN_PROGRESS' });
    pca.on(GetCertificateCommand).rejectsOnce(awsError('RequestInProgressException')).resolves({ Certificate: SIGNED_BY_A });

    const created = await handler(event('Create'));
    expect(created).toEqual({ PhysicalResourceId: PHYSICAL_ID, Data: { CertificateArn: CERTIFICATE } });
    const next = () => waitForInitialization(waitEvent('Create', created.Data as Record<string, string>));

    await expect(next()).resolves.toEqual({ IsComplete: false });
    expect(cloudhsm.commandCalls(InitializeClusterCommand)).toHaveLength(0);
    await expect(next()).resolves.toEqual({ IsComplete: false });
    expect(cloudhsm.commandCalls(InitializeClusterCommand)).toHaveLength(1);
    await expect(next()).resolves.toEqual({ IsComplete: false });
    await expect(next()).resolves.toEqual({ IsComplete: true, Data: { TrustAnchorCertificate: ROOT_A } });

    expect(pca.commandCalls(IssueCertificateCommand)).toHaveLength(1);
    expect(pca.commandCalls(GetCertificateCommand)).toHaveLength(2);
    expect(cloudhsm.commandCalls(InitializeClusterCommand).map(call => call.args[0].input)).toEqual([
      { ClusterId: CLUSTER_ID, SignedCert: SIGNED_BY_A, TrustAnchor: ROOT_A },
    ]);
    expect(cloudhsm.commandCalls(DescribeClustersCommand)).toHaveLength(5);
  });

  test.each([
    ['RequestFailedException', 'ACM Private CA failed to issue the cluster\'s certificate'],
    ['ResourceNotFoundException', 'the certificate authority does not exist in this account and Region'],
    ['InvalidStateException', 'the certificate authority is not ACTIVE'],
    ['AccessDeniedException', 'the handler\'s role may not make this call'],
  ])('GetCertificate failing with %s fails with what to do', async (name, remedy) => {
    cloudhsm.on(DescribeClustersCommand).resolves(uninitialized());
    pca.on(GetCertificateCommand).rejects(awsError(name));
    const error = await failure(waitForInitialization(waitEvent()));
    expect(error.message).toMatch(new RegExp(`^Cannot read the certificate ${CERTIFICATE} of CloudHSM cluster ${CLUSTER_ID}: `));
    expect(error.message).toContain(remedy);
    expect(error.message).toContain(`(${name}: ${name} from AWS)`);
    expect(cloudhsm.commandCalls(InitializeClusterCommand)).toHaveLength(0);
  });

  test.each([
    ['CloudHsmInvalidRequestException', 'CloudHSM refused the request as invalid for the cluster\'s state or configuration'],
    ['CloudHsmAccessDeniedException', 'CloudHSM refused the request: the handler\'s role'],
    ['CloudHsmInternalFailureException', 'CloudHSM failed internally; this is transient, retry the deployment'],
  ])('InitializeCluster failing with %s fails with what to do', async (name, remedy) => {
    cloudhsm.on(DescribeClustersCommand).resolves(uninitialized());
    cloudhsm.on(InitializeClusterCommand).rejects(awsError(name));
    pca.on(GetCertificateCommand).resolves({ Certificate: SIGNED_BY_A });
    const error = await failure(waitForInitialization(waitEvent()));
    expect(error.message).toMatch(new RegExp(`^Cannot initialize CloudHSM cluster ${CLUSTER_ID}: `));
    expect(error.message).toContain(remedy);
    expect(error.message).toContain(`(${name}: ${name} from AWS)`);
  });

  test('UNINITIALIZED without the certificate onEvent asked for is an error, and nothing is initialized', async () => {
    cloudhsm.on(DescribeClustersCommand).resolves(uninitialized());
    const message = `The initialization wait of CloudHSM cluster ${CLUSTER_ID} was called without the certificate onEvent asked for: the custom resource was not written by CloudHsmCluster`;
    await expect(waitForInitialization(waitEvent('Create', null))).rejects.toThrow(message);
    await expect(waitForInitialization(waitEvent('Create', {}))).rejects.toThrow(message);
    expect(pca.commandCalls(GetCertificateCommand)).toHaveLength(0);
    expect(cloudhsm.commandCalls(InitializeClusterCommand)).toHaveLength(0);
  });

  test.each([
    ['DELETE_IN_PROGRESS', 'The cluster is being deleted'],
    ['DEGRADED', 'The HSM hsm-aaaaaaaaaaa is unreachable'],
    ['UPDATE_IN_PROGRESS', 'An HSM is being added'],
    ['MODIFY_IN_PROGRESS', 'The backup retention is being changed'],
  ])('a cluster that becomes %s before it is initialized is an error with its state message', async (state, stateMessage) => {
    // Not initialized: the cluster still has only its CSR, no ClusterCertificate, so its
    // state alone does not make it initialized (the wait would end with a trust anchor
    // the cluster was never given).
    cloudhsm.on(DescribeClustersCommand).resolves(cluster(state, { StateMessage: stateMessage, Certificates: { ClusterCsr: CSR } }));
    pca.on(GetCertificateCommand).resolves({ Certificate: SIGNED_BY_A });
    await expect(waitForInitialization(waitEvent())).rejects.toThrow(
      `CloudHSM cluster ${CLUSTER_ID} became ${state} while it was being initialized: ${stateMessage}`,
    );
    expect(cloudhsm.commandCalls(InitializeClusterCommand)).toHaveLength(0);
  });

  test('a state with no message is still named', async () => {
    cloudhsm.on(DescribeClustersCommand).resolves(cluster('DELETED'));
    await expect(waitForInitialization(waitEvent())).rejects.toThrow(
      new RegExp(`^CloudHSM cluster ${CLUSTER_ID} became DELETED while it was being initialized$`),
    );
  });

  test('a cluster gone meanwhile is an error', async () => {
    cloudhsm.on(DescribeClustersCommand).resolves({ Clusters: [] });
    await expect(waitForInitialization(waitEvent())).rejects.toThrow(`CloudHSM cluster ${CLUSTER_ID} does not exist in this account and Region`);
  });

  test('a CA with no certificate installed is an error, and nothing is initialized', async () => {
    cloudhsm.on(DescribeClustersCommand).resolves(uninitialized());
    pca.on(GetCertificateCommand).resolves({ Certificate: SIGNED_BY_A });
    pca.on(GetCertificateAuthorityCertificateCommand).resolves({});
    await expect(waitForInitialization(waitEvent())).rejects.toThrow(new RegExp(`^certificateAuthority ${CA} has no certificate installed$`));
    pca.on(GetCertificateAuthorityCertificateCommand).rejects(awsError('InvalidStateException'));
    await expect(waitForInitialization(waitEvent())).rejects.toThrow(
      `Cannot read the certificate of certificateAuthority ${CA}: the certificate authority is not ACTIVE (a CA must be installed with its certificate, and not disabled, to issue certificates) (InvalidStateException: InvalidStateException from AWS)`,
    );
    expect(cloudhsm.commandCalls(InitializeClusterCommand)).toHaveLength(0);
  });
});

describe('the certificates, with Node\'s X.509', () => {
  test('a certificate signed by the CA is issued by it', () => {
    expect(() => checkIssuedBy(SIGNED_BY_A, ROOT_A, CLUSTER_ID, CA)).not.toThrow();
    expect(() => checkIssuedBy(SIGNED_BY_B, ROOT_B, CLUSTER_ID, CA)).not.toThrow();
  });

  test('one signed by another CA, or by one of the same name, is not', () => {
    expect(() => checkIssuedBy(SIGNED_BY_A, ROOT_B, CLUSTER_ID, CA)).toThrow(`issued by "${SUBJECT_A}", not by certificateAuthority ${CA} ("${SUBJECT_B}")`);
    expect(() => checkIssuedBy(SIGNED_BY_B, ROOT_A, CLUSTER_ID, CA)).toThrow(`issued by "${SUBJECT_B}", not by certificateAuthority ${CA} ("${SUBJECT_A}")`);
    expect(() => checkIssuedBy(SIGNED_BY_A, IMPOSTOR_A, CLUSTER_ID, CA)).toThrow(/certificateAuthority must be the CA that signed it/);
  });

  test('the CA\'s certificate is read as is', async () => {
    const client = new ACMPCAClient({});
    await expect(readAuthorityCertificate(client, CA)).resolves.toBe(ROOT_A);
    expect(pca.commandCalls(GetCertificateAuthorityCertificateCommand)[0].args[0].input).toEqual({ CertificateAuthorityArn: CA });
    client.destroy();
  });
});
