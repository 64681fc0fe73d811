/*
 * The certificates of a cluster's initialization: the CA's own (the trust anchor) and
 * whether the cluster's certificate was issued by it, checked with Node's X.509.
 */
import { X509Certificate } from 'crypto';
import { ACMPCAClient, GetCertificateAuthorityCertificateCommand } from '@aws-sdk/client-acm-pca';
import { explainCloudHsm } from './cloudhsm-api';

/** The CA's certificate, PEM: for a root CA, the self-signed trust anchor. */
export async function readAuthorityCertificate(pca: ACMPCAClient, arn: string): Promise<string> {
  try {
    const { Certificate } = await pca.send(new GetCertificateAuthorityCertificateCommand({ CertificateAuthorityArn: arn }));
    if (!Certificate) throw new Error(`certificateAuthority ${arn} has no certificate installed`);
    return Certificate;
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('certificateAuthority')) throw error;
    throw new Error(`Cannot read the certificate of certificateAuthority ${arn}: ${explainCloudHsm(error)}`);
  }
}

/** Fails unless the cluster's certificate was issued (signed) by the CA's certificate. */
export function checkIssuedBy(clusterCertificate: string, authorityCertificate: string, clusterId: string, arn: string): void {
  const cluster = new X509Certificate(clusterCertificate);
  const authority = new X509Certificate(authorityCertificate);
  if (!cluster.checkIssued(authority) || !cluster.verify(authority.publicKey)) {
    throw new Error(`CloudHSM cluster ${clusterId} was initialized with a certificate issued by "${cluster.issuer.replace(/\n/g, ', ')}", not by certificateAuthority ${arn} ("${authority.subject.replace(/\n/g, ', ')}"): a cluster is initialized once, so certificateAuthority must be the CA that signed it`);
  }
}
