export { ERROR_CODES, defaultHint, type ErrorCode } from './codes.js';
export {
  TsbuildError,
  DockerfileError,
  StepError,
  RegistryError,
  isTsbuildError,
  type SourceLocation,
  type TsbuildErrorOptions,
} from './errors.js';
