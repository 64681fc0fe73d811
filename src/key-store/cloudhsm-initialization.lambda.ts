/*
 * The custom-resource handler that initializes a CloudHsmCluster with an ACM Private
 * CA (onEvent), run by the aws-cdk-lib Provider framework after the cluster's first
 * HSM is active. It has the CA sign the cluster's certificate signing request; the
 * wait (cloudhsm-initialization-ready, isComplete) then calls InitializeCluster with
 * the signed certificate and the CA's own certificate as the trust anchor, and waits
 * for INITIALIZED.
 *
 * - Create and Update: a cluster initialized already (by a first attempt, or by
 *   hand) is not initialized again; its certificate must have been issued by the CA,
 *   or the trust anchor this resource returns would not be the cluster's. The CA
 *   must be an ACTIVE root CA: the trust anchor is self-signed, and CloudHSM takes
 *   the certificate that signed the cluster's directly.
 * - Delete: nothing. A cluster cannot be uninitialized.
 * It acts only on CloudFormation's events for its own stack's cluster.
 * @see https://docs.aws.amazon.com/cloudhsm/latest/userguide/initialize-cluster.html
 */
import { createHash } from 'crypto';
import { ACMPCAClient, DescribeCertificateAuthorityCommand, IssueCertificateCommand, SigningAlgorithm } from '@aws-sdk/client-acm-pca';
import { CloudHSMV2Client } from '@aws-sdk/client-cloudhsm-v2';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { checkStackCluster, describeCluster, explainCloudHsm, isInitialized, readInitializationProperties } from './cloudhsm-api';
import { checkIssuedBy, readAuthorityCertificate } from './cluster-certificates';
import { verifyEvent } from '../custom-resources/event-verification';
import { CLUSTER_INITIALIZATION_TYPE } from '../custom-resources/resource-types';

export interface InitializationResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: { readonly CertificateArn?: string };
}

export async function handler(event: CloudFormationCustomResourceEvent): Promise<InitializationResponse> {
  await verifyEvent(event, CLUSTER_INITIALIZATION_TYPE, 'onEvent');
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
  const props = readInitializationProperties(event.ResourceProperties);
  await checkStackCluster(event, props.ClusterId, props.ClusterLogicalId);
  const physicalId = `${props.ClusterId}/initialization`;
  const cloudhsm = new CloudHSMV2Client({});
  const pca = new ACMPCAClient({});
  try {
    const cluster = await describeCluster(cloudhsm, props.ClusterId);
    if (isInitialized(cluster)) {
      // A retried create, an update, or a cluster initialized by hand: it is
      // initialized once, and the trust anchor given is the CA's.
      const signed = cluster.Certificates?.ClusterCertificate;
      if (signed) {
        const authority = await readAuthorityCertificate(pca, props.CertificateAuthorityArn);
        checkIssuedBy(signed, authority, props.ClusterId, props.CertificateAuthorityArn);
      }
      return { PhysicalResourceId: physicalId };
    }
    if (cluster.State !== 'UNINITIALIZED') {
      throw new Error(`CloudHSM cluster ${props.ClusterId} is ${cluster.State}: only an UNINITIALIZED cluster can be initialized`);
    }
    const csr = cluster.Certificates?.ClusterCsr;
    if (!csr) {
      throw new Error(`CloudHSM cluster ${props.ClusterId} has no certificate signing request yet: CloudHSM makes it once the cluster's first HSM is ACTIVE`);
    }
    const signingAlgorithm = await checkAuthority(pca, props.CertificateAuthorityArn);
    try {
      const { CertificateArn } = await pca.send(new IssueCertificateCommand({
        CertificateAuthorityArn: props.CertificateAuthorityArn,
        Csr: new TextEncoder().encode(csr),
        SigningAlgorithm: signingAlgorithm,
        // An end-entity certificate, as AWS's own openssl signing makes; the role may
        // issue no other kind.
        TemplateArn: `arn:${props.CertificateAuthorityArn.split(':')[1]}:acm-pca:::template/EndEntityCertificate/V1`,
        Validity: { Type: 'DAYS', Value: props.validityDays },
        // A call retried within five minutes gets the certificate the first one asked for.
        IdempotencyToken: createHash('sha256').update(`${props.ClusterId} ${props.CertificateAuthorityArn}`).digest('hex').slice(0, 36),
      }));
      return { PhysicalResourceId: physicalId, Data: { CertificateArn } };
    } catch (error) {
      throw new Error(`Cannot have ${props.CertificateAuthorityArn} sign the certificate of CloudHSM cluster ${props.ClusterId}: ${explainCloudHsm(error)}`);
    }
  } finally {
    cloudhsm.destroy();
    pca.destroy();
  }
}

/** The CA's signing algorithm, once it is known to be an active root CA. */
async function checkAuthority(pca: ACMPCAClient, arn: string): Promise<SigningAlgorithm> {
  let authority;
  try {
    ({ CertificateAuthority: authority } = await pca.send(new DescribeCertificateAuthorityCommand({ CertificateAuthorityArn: arn })));
  } catch (error) {
    throw new Error(`Cannot describe certificateAuthority ${arn}: ${explainCloudHsm(error)}`);
  }
  if (authority?.Type !== 'ROOT') {
    throw new Error(`certificateAuthority ${arn} is a ${authority?.Type ?? 'unknown'} CA: CloudHSM takes as trust anchor the self-signed certificate that signed the cluster's, so it must be a ROOT CA`);
  }
  if (authority.Status !== 'ACTIVE') {
    throw new Error(`certificateAuthority ${arn} is ${authority.Status}: it issues certificates only when ACTIVE (installed with its certificate, and enabled)`);
  }
  const algorithm = authority.CertificateAuthorityConfiguration?.SigningAlgorithm;
  if (!algorithm) throw new Error(`certificateAuthority ${arn} has no signing algorithm`);
  return algorithm;
}
