/*
 * Deploys a new CloudHSM cluster in a VPC of two Availability Zones, initialized by a
 * root CA of ACM Private CA made for the test, and asserts through the CloudHSM API
 * that the cluster is INITIALIZED with its first HSM ACTIVE (a cluster takes no second
 * HSM before activation), and that its trust anchor is the CA's certificate.
 *
 * The VPC's subnets are isolated (no NAT gateway), and the cluster's custom-resource
 * functions run in them (`handlerVpc`, as Control Tower's CT.LAMBDA.PR.3 asks),
 * reaching CloudFormation, Lambda, Step Functions, CloudHSM, ACM Private CA and S3
 * through the endpoints the library creates (`createEndpoints`).
 *
 * Verify the snapshot offline:   npx projen integ
 * Deploy it (needs an account; it costs one HSM by the hour while it exists and the
 * private CA's monthly fee):
 *   npx integ-runner --directory integ --language typescript --force
 * Everything opts in to deletion: the HSM, then the cluster (CloudHSM keeps its last
 * backup), and the CA (ACM Private CA keeps it restorable for 7 days).
 */
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as acmpca from 'aws-cdk-lib/aws-acmpca';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { CloudHsmCluster } from '../src';

const app = new App();
const stack = new Stack(app, 'CloudHsmClusterInteg');

const vpc = new ec2.Vpc(stack, 'Vpc', {
  maxAzs: 2,
  natGateways: 0,
  subnetConfiguration: [{ name: 'hsm', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
});

// A root CA, self-signed and activated, as the cluster's trust anchor.
const root = new acmpca.CfnCertificateAuthority(stack, 'RootCa', {
  type: 'ROOT',
  keyAlgorithm: 'RSA_2048',
  signingAlgorithm: 'SHA256WITHRSA',
  subject: { commonName: 'cdk-kms-constructs integ CloudHSM root', organization: 'cdk-kms-constructs' },
});
root.applyRemovalPolicy(RemovalPolicy.DESTROY);
const rootCertificate = new acmpca.CfnCertificate(stack, 'RootCertificate', {
  certificateAuthorityArn: root.attrArn,
  certificateSigningRequest: root.attrCertificateSigningRequest,
  signingAlgorithm: 'SHA256WITHRSA',
  templateArn: `arn:${stack.partition}:acm-pca:::template/RootCACertificate/V1`,
  validity: { type: 'YEARS', value: 10 },
});
const activation = new acmpca.CfnCertificateAuthorityActivation(stack, 'RootActivation', {
  certificateAuthorityArn: root.attrArn,
  certificate: rootCertificate.attrCertificate,
});

const cluster = new CloudHsmCluster(stack, 'Cluster', {
  vpc,
  certificateAuthority: acmpca.CertificateAuthority.fromCertificateAuthorityArn(stack, 'Ca', root.attrArn),
  removalPolicy: RemovalPolicy.DESTROY,
  handlerVpc: { vpc, createEndpoints: true },
});
// The CA issues only once it is active.
cluster.node.addDependency(activation);

const integ = new IntegTest(app, 'CloudHsmClusterTest', { testCases: [stack] });
integ.assertions
  .awsApiCall('CloudHSMV2', 'describeClusters', { Filters: { clusterIds: [cluster.clusterId] } })
  .expect(ExpectedResult.objectLike({ Clusters: [{ State: 'INITIALIZED', HsmType: 'hsm2m.medium', Hsms: [{ State: 'ACTIVE' }] }] }));
integ.assertions
  .awsApiCall('ACMPCA', 'getCertificateAuthorityCertificate', { CertificateAuthorityArn: root.attrArn })
  .expect(ExpectedResult.objectLike({ Certificate: cluster.trustAnchorCertificate }));

app.synth();
