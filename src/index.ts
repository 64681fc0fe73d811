export { DataClassification } from './classification';
export * from './classified-key';
