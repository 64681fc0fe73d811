export { DataClassification } from './classification';
export { ClassifiedKey, ClassifiedKeyProps } from './classified-key';
