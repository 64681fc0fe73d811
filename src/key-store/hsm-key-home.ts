import { CfnResource, ITaggable, TagManager, TagType } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { HSM_KEY_TYPE } from '../custom-resources/resource-types';
import { HomeSpec, KeyHome } from '../key/key-home';

/** What a key in a CloudHSM key store needs of its custom resource. */
export interface HsmKeyResourceOptions {
  /** The Provider framework's service token of the stack's HSM key handler. */
  readonly serviceToken: string;
  /** The ARN of the handler's role, which creates the key and so writes its policy. */
  readonly handlerRoleArn: string;
  readonly customKeyStoreId: string;
}

/**
 * A key in a CloudHSM custom key store: KMS makes its material in the store's HSMs
 * (`CreateKey` with `Origin: AWS_CLOUDHSM`), through a custom resource.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/create-cmk-keystore.html
 */
export function hsmKeyHome(options: HsmKeyResourceOptions): KeyHome {
  return {
    cfnType: HSM_KEY_TYPE,
    setsRotation: false,
    materialRotates: false,
    policyWriters: [options.handlerRoleArn],
    multiRegionPrimary: false,
    administration: [],
    check(props) {
      const refuse = (name: string, value: unknown, why: string) => {
        throw new Error(`${name} must not be set for a key in a CloudHSM key store, which ${why}, got ${String(value)}`);
      };
      if (props.keySpec !== undefined && props.keySpec !== kms.KeySpec.SYMMETRIC_DEFAULT) refuse('keySpec', props.keySpec, 'holds symmetric encryption keys only');
      if (props.keyUsage !== undefined && props.keyUsage !== kms.KeyUsage.ENCRYPT_DECRYPT) refuse('keyUsage', props.keyUsage, 'holds symmetric encryption keys only');
      if (props.importKeyMaterial) refuse('importKeyMaterial', true, 'makes the material in its HSMs');
      if (props.enableKeyRotation) refuse('enableKeyRotation', true, 'KMS never rotates');
      if (props.rotationPeriod !== undefined) refuse('rotationPeriod', props.rotationPeriod, 'KMS never rotates');
    },
    create(scope, spec) {
      const resource = new HsmKeyResource(scope, 'Resource', options, spec);
      return { resource, keyArn: resource.getAtt('Arn').toString(), keyId: resource.getAtt('KeyId').toString() };
    },
  };
}

/** The custom resource of a key in a CloudHSM key store: taggable, as a key is. */
class HsmKeyResource extends CfnResource implements ITaggable {
  public readonly tags = new TagManager(TagType.KEY_VALUE, HSM_KEY_TYPE, undefined, { tagPropertyName: 'Tags' });

  constructor(scope: Construct, id: string, options: HsmKeyResourceOptions, spec: HomeSpec) {
    super(scope, id, {
      type: HSM_KEY_TYPE,
      properties: {
        ServiceToken: options.serviceToken,
        CustomKeyStoreId: options.customKeyStoreId,
        Description: spec.description,
        KeyPolicy: spec.keyPolicy,
        PendingWindowInDays: spec.pendingWindowInDays,
      },
    });
  }
}
