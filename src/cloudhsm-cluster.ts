import { Token } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { validateClusterId } from './private/validation';

/**
 * An AWS CloudHSM cluster that a custom key store can be wired to.
 */
export interface ICloudHsmCluster extends IConstruct {
  /** The cluster's ID, `cluster-` followed by 11 to 16 letters and digits. */
  readonly clusterId: string;
  /** The ID of the security group CloudHSM made for the cluster, when known. */
  readonly securityGroupId?: string;
}

/**
 * What identifies an existing CloudHSM cluster.
 */
export interface CloudHsmClusterAttributes {
  /** The cluster's ID, as `cluster-1a23b4cdefg`. */
  readonly clusterId: string;

  /**
   * The ID of the security group CloudHSM made for the cluster.
   *
   * @default - unknown
   */
  readonly securityGroupId?: string;
}

/**
 * An AWS CloudHSM cluster, for a CustomKeyStore.
 *
 * `fromClusterAttributes` adopts a cluster that exists: initialized, activated, with
 * its `kmsuser` crypto user, and HSMs in two Availability Zones (the README's
 * ceremony, from nothing to a key, says how).
 */
export class CloudHsmCluster {
  /**
   * Adopts an existing cluster. Its ID is checked at synth; whether it is ready for a
   * key store is checked by KMS when the store is created, and a cluster that is not
   * fails the deployment with the step that is missing.
   */
  public static fromClusterAttributes(scope: Construct, id: string, attrs: CloudHsmClusterAttributes): ICloudHsmCluster {
    validateClusterId('clusterId', attrs.clusterId);
    if (attrs.securityGroupId !== undefined && !Token.isUnresolved(attrs.securityGroupId) && !/^sg-[0-9a-f]{8,17}$/.test(attrs.securityGroupId)) {
      throw new Error(`securityGroupId must be a security group ID (sg- and 8 to 17 hexadecimal digits), got ${attrs.securityGroupId}`);
    }
    class Imported extends Construct implements ICloudHsmCluster {
      public readonly clusterId = attrs.clusterId;
      public readonly securityGroupId = attrs.securityGroupId;
    }
    return new Imported(scope, id);
  }

  private constructor() {}
}
