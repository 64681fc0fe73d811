/**
 * How sensitive the data protected by a key is.
 *
 * The classification drives the key's defaults (rotation period, who may use it,
 * how its administrators sign in, which alarms watch it) and is written to the
 * `data-classification` tag of every taggable resource the construct creates.
 */
export enum DataClassification {
  /** Data meant for the public: integrity matters, secrecy does not. */
  PUBLIC = 'PUBLIC',
  /** Internal business data: the default for most workloads. */
  INTERNAL = 'INTERNAL',
  /** Customer or business-sensitive data (PII, financial records). */
  CONFIDENTIAL = 'CONFIDENTIAL',
  /** The most sensitive data (cardholder data, health records, secrets). */
  RESTRICTED = 'RESTRICTED',
}

/**
 * What a classification implies. One row of the table in the README; the values
 * are argued for there.
 *
 * @internal
 */
export interface ClassificationRules {
  /** Tag value, lowercase. */
  readonly tagValue: string;
  /** Default and longest allowed rotation period for symmetric keys, in days. */
  readonly rotationDays: number;
  /** Whether a longer rotation period than `rotationDays` may be asked for. */
  readonly rotationIsCeiling: boolean;
  /** Whether the user may opt in to cryptography for the account root. */
  readonly rootCryptographyAllowed: boolean;
  /** Whether use must be narrowed by `viaServices` or `encryptionContextKeys`. */
  readonly usageMustBeNarrowed: boolean;
  /** Whether administrators must have signed in with MFA. */
  readonly adminRequiresMfa: boolean;
  /** Whether automatic rotation may be turned off for a symmetric key. */
  readonly rotationMayBeDisabled: boolean;
  /** Whether monitoring by the audit trail may be turned off. */
  readonly monitoringMayBeDisabled: boolean;
  /** Denied requests in five minutes above which the key's own alarm goes off. */
  readonly deniedRequestsThreshold?: number;
}

const RULES: Record<DataClassification, ClassificationRules> = {
  [DataClassification.PUBLIC]: {
    tagValue: 'public',
    rotationDays: 365,
    rotationIsCeiling: false,
    rootCryptographyAllowed: true,
    usageMustBeNarrowed: false,
    adminRequiresMfa: false,
    rotationMayBeDisabled: true,
    monitoringMayBeDisabled: true,
  },
  [DataClassification.INTERNAL]: {
    tagValue: 'internal',
    rotationDays: 365,
    rotationIsCeiling: false,
    rootCryptographyAllowed: true,
    usageMustBeNarrowed: false,
    adminRequiresMfa: false,
    rotationMayBeDisabled: true,
    monitoringMayBeDisabled: true,
  },
  [DataClassification.CONFIDENTIAL]: {
    tagValue: 'confidential',
    rotationDays: 180,
    rotationIsCeiling: true,
    rootCryptographyAllowed: false,
    usageMustBeNarrowed: false,
    adminRequiresMfa: true,
    rotationMayBeDisabled: false,
    monitoringMayBeDisabled: false,
    deniedRequestsThreshold: 10,
  },
  [DataClassification.RESTRICTED]: {
    tagValue: 'restricted',
    rotationDays: 90,
    rotationIsCeiling: true,
    rootCryptographyAllowed: false,
    usageMustBeNarrowed: true,
    adminRequiresMfa: true,
    rotationMayBeDisabled: false,
    monitoringMayBeDisabled: false,
    deniedRequestsThreshold: 3,
  },
};

/**
 * The rules a classification implies.
 *
 * @internal
 */
export function rulesFor(classification: DataClassification): ClassificationRules {
  const rules = RULES[classification];
  if (!rules) {
    throw new Error(`classification must be one of ${Object.keys(RULES).join(', ')}, got ${classification}`);
  }
  return rules;
}
